package aliyunsim

import (
	"flag"
	"fmt"
	"sort"
	"strings"
	"time"
)

// "SSL Certificate Management V2.0" (CAS 2020-04-07, subscription instances). An instance is a
// purchased entitlement that carries a series of certificates over its subscription: the user
// writes an application onto it (UpdateInstance), submits it (ApplyCertificate), the CA
// publishes validation records a few seconds later, and once the domains are proven a new
// certificate, with a new CertificateId, becomes the instance's latest.
//
//	inactive/normal --ApplyCertificate (or auto-submit)--> pending
//	pending --[RecordsDelay]--> records shown --proof + ValidationDelay + IssueDelay--> normal, new certificate
//	pending --CancelPendingCertificate (refused for CancelRefusal after the records appear)--> [CancelDelay] --> previous status
//
// Behaviour the reference marks unverified and the simulator makes configurable: the delays,
// auto-submit on UpdateInstance, the status a withdrawn application settles on (the previous
// one here), re-application on a normal instance (allowed), the domain capacity rules.

// Instance types (InstanceType).
const (
	InstanceBuy  = "BUY"
	InstanceTest = "TEST"
)

// V2Config configures the V2.0 instances of the account.
type V2Config struct {
	// Instances is the number of inactive DV instances bought at start.
	Instances int
	// InstanceType is BUY (default) or TEST (free test instances with 3-month certificates,
	// one plain domain).
	InstanceType string
	// FullDomains and WildcardDomains are each BUY instance's capacity (FullDomainCount,
	// WildcardDomainCount); defaults 1 and 0. TEST instances always hold one plain domain.
	FullDomains, WildcardDomains int
	// AutoSubmit makes UpdateInstance submit the application at once when it completes it (seen
	// on BUY DV instances, unverified); ApplyCertificate is then refused.
	AutoSubmit bool
	// RecordsDelay is the time from the submission to the validation records (default 2s).
	RecordsDelay time.Duration
	// CancelRefusal is how long after the records appear CancelPendingCertificate is still
	// refused (default 5s).
	CancelRefusal time.Duration
	// CancelDelay is how long a withdrawal takes to land (default 2s; minutes in reality).
	CancelDelay time.Duration
	// UpdateProtection is how long after an application ended (issued or withdrawn)
	// UpdateInstance answers InvalidStatus.UpdateProtection (seen and retried by Terraform;
	// when it happens is unverified). 0 is never.
	UpdateProtection time.Duration
}

func (c *V2Config) normalize() error {
	if c.Instances < 0 || c.FullDomains < 0 || c.WildcardDomains < 0 {
		return fmt.Errorf("aliyunsim: instance counts must not be negative")
	}
	switch c.InstanceType {
	case "":
		c.InstanceType = InstanceBuy
	case InstanceBuy, InstanceTest:
	default:
		return fmt.Errorf("aliyunsim: instance type %q is neither %s nor %s", c.InstanceType, InstanceBuy, InstanceTest)
	}
	if c.FullDomains == 0 {
		c.FullDomains = 1
	}
	if c.RecordsDelay < 0 || c.CancelRefusal < 0 || c.CancelDelay < 0 || c.UpdateProtection < 0 {
		return fmt.Errorf("aliyunsim: instance delays must not be negative")
	}
	if c.RecordsDelay == 0 {
		c.RecordsDelay = 2 * time.Second
	}
	if c.CancelRefusal == 0 {
		c.CancelRefusal = 5 * time.Second
	}
	if c.CancelDelay == 0 {
		c.CancelDelay = 2 * time.Second
	}
	return nil
}

// InstanceSpec describes an instance for AddInstance.
type InstanceSpec struct {
	Type            string // BUY (default) or TEST
	FullDomains     int    // default 1
	WildcardDomains int
	// Status forces a terminal subscription status: "expired", "refund" or "closed"; "" is a
	// live instance.
	Status string
}

// v2State is the V2.0 part of the account; guarded by Simulator.mu.
type v2State struct {
	instances   []*v2Instance
	idx         map[string]*v2Instance
	contacts    map[int64]*contact
	nextContact int64
	autoSubmit  bool
}

func newV2State() *v2State {
	return &v2State{idx: map[string]*v2Instance{}, contacts: map[int64]*contact{}}
}

type tag struct{ key, value string }

// instanceConfig is what UpdateInstance wrote onto an instance.
type instanceConfig struct {
	method      string // online or upload
	csrPEM      string
	csr         *parsedCSR
	domains     []string
	keyAlg      string
	validation  string // DNS or HTTP
	contacts    []int64
	name        string
	autoReissue string
	tags        []tag
}

type v2Instance struct {
	id                    string
	typ, spec, brand      string
	fullDomains, wildDoms int
	bought, ends          time.Time
	forced                string // expired, refund, closed (tests)
	settled               string // inactive or normal: the status when nothing is in flight
	cfg                   instanceConfig
	appl                  *application // the latest application
	endedAt               time.Time    // when the latest application ended
	applications          int
	certID                int64     // the latest certificate
	issuedAt              time.Time // when the CA issued it
	revoked               map[int64]time.Time
}

// application is one submission to the CA.
type application struct {
	submitted time.Time
	recordsAt time.Time
	order     *order // created when the records appear
	cancelAt  time.Time
	done      bool
	cancelled bool
}

func (s *Simulator) seedV2() {
	s.st.v2.nextContact = 1_000_000 + s.rnd.Int64N(8_000_000)
	s.st.v2.autoSubmit = s.cfg.V2.AutoSubmit
	for i := 0; i < s.cfg.V2.Instances; i++ {
		s.addInstance(InstanceSpec{Type: s.cfg.V2.InstanceType, FullDomains: s.cfg.V2.FullDomains, WildcardDomains: s.cfg.V2.WildcardDomains})
	}
}

func (s *Simulator) addInstance(spec InstanceSpec) *v2Instance {
	now := s.now()
	inst := &v2Instance{
		id: "cas_dv-cn-" + randomLowerAlnum(12), typ: spec.Type, brand: "DigiCert",
		fullDomains: max(spec.FullDomains, 1), wildDoms: spec.WildcardDomains,
		bought: now.Add(-time.Hour), ends: now.AddDate(1, 0, 0), forced: spec.Status, settled: "inactive",
		revoked: map[int64]time.Time{},
	}
	switch inst.typ {
	case InstanceTest:
		// ss.dv.t: the free DV test certificate, one plain name, three months.
		inst.spec, inst.fullDomains, inst.wildDoms = "ss.dv.t", 1, 0
		inst.ends = now.AddDate(0, 3, 0)
	default:
		inst.typ, inst.spec = InstanceBuy, "ss.dv.f"
		if inst.wildDoms > 0 {
			inst.spec = "ss.dv.w"
		}
		if inst.fullDomains+inst.wildDoms > 1 {
			inst.spec = "ss.dv.m"
		}
	}
	if inst.forced == "expired" {
		inst.ends = now.Add(-time.Hour)
	}
	s.st.v2.instances = append(s.st.v2.instances, inst)
	s.st.v2.idx[inst.id] = inst
	return inst
}

// AddInstance buys one more V2.0 DV instance and returns its id.
func (s *Simulator) AddInstance(spec InstanceSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addInstance(spec).id
}

// SetAutoSubmit switches auto-submit on UpdateInstance.
func (s *Simulator) SetAutoSubmit(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.v2.autoSubmit = on
}

// product is the catalogue entry the instance's certificates are issued under. Validity: 90
// days for TEST, 198 for BUY (below the CA/B 200-day limit of 2026-03; unverified).
func (inst *v2Instance) product() product {
	days := 198
	if inst.typ == InstanceTest {
		days = 90
	}
	return product{Code: inst.spec, Name: inst.spec, Brand: inst.brand, MaxNames: inst.fullDomains + inst.wildDoms, Wildcard: inst.wildDoms > 0, Days: days}
}

// inFlight reports whether an application is pending.
func (inst *v2Instance) inFlight() bool { return inst.appl != nil && !inst.appl.done }

// status is the instance Status of §2.1.
func (inst *v2Instance) status(now time.Time) string {
	switch {
	case inst.forced != "":
		return inst.forced
	case inst.inFlight():
		return "pending"
	case !now.Before(inst.ends):
		return "expired"
	case inst.ends.Sub(now) < 30*24*time.Hour:
		return "willExpire"
	}
	return inst.settled
}

// usable says whether the subscription still allows applications.
func (inst *v2Instance) usable(now time.Time) bool {
	st := inst.status(now)
	return st != "expired" && st != "refund" && st != "closed"
}

// certificateStatus is the latest certificate's status (§2.2), "" before the first issuance.
func (s *Simulator) certificateStatus(inst *v2Instance, id int64) string {
	if _, ok := inst.revoked[id]; ok {
		return "revoked"
	}
	uc := s.st.certs[id]
	if uc == nil {
		return ""
	}
	switch certStatus(uc.leaf, s.now()) {
	case "EXPIRED":
		return "expired"
	case "WILLEXPIRED":
		return "willExpire"
	}
	return "issued"
}

// submit starts an application with what the instance holds.
func (s *Simulator) submit(inst *v2Instance) {
	now := s.now()
	inst.appl = &application{submitted: now, recordsAt: now.Add(s.cfg.V2.RecordsDelay)}
	inst.applications++
	if inst.cfg.method == "online" {
		s.keys.warm() // the simulator will generate this application's key
	}
}

// advanceInstance brings the instance's application up to date with the clock.
func (s *Simulator) advanceInstance(inst *v2Instance) {
	a := inst.appl
	if a == nil || a.done {
		return
	}
	now := s.now()
	if !a.cancelAt.IsZero() {
		if !now.Before(a.cancelAt.Add(s.cfg.V2.CancelDelay)) {
			a.done, a.cancelled = true, true
			inst.endedAt = a.cancelAt.Add(s.cfg.V2.CancelDelay)
			if a.order != nil {
				a.order.phase = phaseCancelled
			}
		}
		return
	}
	if a.order == nil {
		if now.Before(a.recordsAt) {
			return
		}
		vt := "DNS"
		if inst.cfg.validation == "HTTP" {
			vt = "FILE"
		}
		o := s.newOrder(VersionCAS2020, "ApplyCertificate", inst.product(), inst.cfg.domains, vt, a.recordsAt)
		o.instance = inst.id
		if c := inst.cfg.csr; c != nil {
			o.pub, o.fromCSR = c.pub, true
			if c.cn != "" {
				o.cn = c.cn
			}
		}
		a.order = o
	}
	s.advance(a.order)
	switch a.order.phase {
	case phaseIssued:
		a.done = true
		inst.certID, inst.settled, inst.issuedAt = a.order.certID, "normal", a.order.issuedAt
		inst.endedAt = now
	case phaseFailed:
		a.done = true
	}
}

func (s *Simulator) advanceInstances() {
	for _, inst := range s.st.v2.instances {
		s.advanceInstance(inst)
	}
}

// recordsShown reports whether the validation records are visible.
func (a *application) recordsShown() bool {
	return a != nil && !a.done && a.cancelAt.IsZero() && a.order != nil && (a.order.phase == phaseVerify || a.order.phase == phaseProcess)
}

// rootDomain is the zone a name's validation record goes into: the account's Alidns zone
// holding it, else its last two labels.
func (s *Simulator) rootDomain(name string) string {
	if z, own := s.zoneOf(name); own {
		return z
	}
	labels := strings.Split(name, ".")
	if len(labels) <= 2 {
		return name
	}
	return strings.Join(labels[len(labels)-2:], ".")
}

// validationList is DomainValidationList: one entry per name. A DNS record is the TXT
// `_dnsauth.<name>` (its key relative to RootDomain); the HTTP form puts the path in
// ValidationKey and the file content in ValidationValue (unverified mapping).
func (s *Simulator) validationList(inst *v2Instance) []obj {
	list := []obj{}
	a := inst.appl
	if !a.recordsShown() {
		return list
	}
	for _, d := range a.order.domains {
		base := baseDomain(d)
		root := s.rootDomain(base)
		entry := obj{"Domain": d, "RootDomain": root, "ValidationValue": a.order.token, "CnameKey": "", "Cname": ""}
		if a.order.validateType == "FILE" {
			entry["ValidationType"] = "HTTP"
			entry["ValidationKey"] = fileAuthPath
		} else {
			key := dnsAuthLabel
			if base != root {
				key += "." + strings.TrimSuffix(base, "."+root)
			}
			entry["ValidationType"] = "TXT"
			entry["ValidationKey"] = key
		}
		list = append(list, entry)
	}
	return list
}

// InstanceState is one V2.0 instance in /_sim/state.
type InstanceState struct {
	ID                string   `json:"id"`
	Status            string   `json:"status"`
	CertificateStatus string   `json:"certificateStatus"`
	CertificateID     int64    `json:"certificateId,omitempty"`
	Domain            string   `json:"domain"`
	InstanceType      string   `json:"instanceType"`
	Applications      int      `json:"applications"` // submissions accepted, over the instance's life
	Certificates      []int64  `json:"certificates"` // every CertificateId issued on it
	Tags              []string `json:"tags"`         // "key=value"
	// IssuedAt is when the CA issued the latest certificate (not an Alibaba field).
	IssuedAt time.Time `json:"issuedAt,omitzero"`
}

// Applications counts the submissions accepted per V2.0 instance, and in all.
func (st State) Applications() (map[string]int, int) {
	per, total := map[string]int{}, 0
	for _, i := range st.Instances {
		per[i.ID] = i.Applications
		total += i.Applications
	}
	return per, total
}

// instanceStates is the instances part of State; the caller holds s.mu and has advanced them.
func (s *Simulator) instanceStates() []InstanceState {
	now := s.now()
	out := []InstanceState{}
	for _, inst := range s.st.v2.instances {
		is := InstanceState{
			ID: inst.id, Status: inst.status(now), CertificateStatus: s.certificateStatus(inst, inst.certID),
			CertificateID: inst.certID, Domain: strings.Join(inst.cfg.domains, ","), InstanceType: inst.typ,
			Applications: inst.applications, Certificates: s.instanceCerts(inst.id), Tags: []string{},
			IssuedAt: inst.issuedAt,
		}
		for _, t := range inst.cfg.tags {
			is.Tags = append(is.Tags, t.key+"="+t.value)
		}
		out = append(out, is)
	}
	return out
}

// instanceCerts lists the ids of the certificates issued on an instance, oldest first.
func (s *Simulator) instanceCerts(id string) []int64 {
	ids := []int64{}
	for _, uc := range s.st.certs {
		if uc.instance == id {
			ids = append(ids, uc.id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func bindV2Flags(fs *flag.FlagSet, c *V2Config) {
	fs.IntVar(&c.Instances, "instances", 0, "number of inactive V2.0 DV instances (CAS 2020-04-07 subscription instances)")
	fs.StringVar(&c.InstanceType, "instance-type", InstanceBuy, "type of those instances: BUY, or TEST (one plain domain, 3-month certificates)")
	fs.IntVar(&c.FullDomains, "instance-domains", 1, "plain domains each BUY instance holds (FullDomainCount)")
	fs.IntVar(&c.WildcardDomains, "instance-wildcards", 0, "wildcard domains each BUY instance holds (WildcardDomainCount)")
	fs.BoolVar(&c.AutoSubmit, "auto-submit", false, "UpdateInstance submits a complete application at once (BUY instances)")
	fs.DurationVar(&c.RecordsDelay, "records-delay", 0, "time from a V2.0 submission to its validation records (default 2s)")
	fs.DurationVar(&c.CancelRefusal, "cancel-refusal", 0, "how long after the records appear CancelPendingCertificate is refused (default 5s)")
	fs.DurationVar(&c.CancelDelay, "cancel-delay", 0, "how long a withdrawal takes to land (default 2s)")
	fs.DurationVar(&c.UpdateProtection, "update-protection", 0, "how long after an application ended UpdateInstance answers InvalidStatus.UpdateProtection (0 = never)")
}
