package aliyunsim

import (
	"crypto/x509"
	"sort"
	"strconv"
	"time"
)

// state is the account as Alibaba Cloud holds it. Everything in it is guarded by Simulator.mu.
type state struct {
	calls     map[string]int // per Action
	errors    map[string]int // per error Code
	throttled int
	faults    int

	zones   map[string]*zone // the account's Alidns zones, by name
	foreign map[string]bool  // zones of another account
	records map[string]*record
	nextRec int64

	files map[string]string // "<domain>/<path>" -> content, the user's web servers

	packages map[string]*pkgState
	orders   map[int64]*order // CAS 2020-04-07, by OrderId
	nextID   int64
	// placed counts the CAS 2020-04-07 orders ever placed per domain, deleted ones included.
	placed map[string]int

	instances   []*dvInstance // CAS 2018-07-13, in purchase order
	instanceIdx map[string]*dvInstance

	v2 *v2State // CAS 2020-04-07 V2.0 instances and contacts

	certs    map[int64]*userCert
	nextCert int64

	nonces     map[string]time.Time // AccessKeyId + "\x00" + nonce -> when used
	nonceSweep time.Time
	stsKeys    map[string]*stsCred // temporary AccessKeyId -> credential
	stsTokens  map[string]string   // SecurityToken -> temporary AccessKeyId
}

type zone struct {
	id   string
	name string
}

type record struct {
	id       string
	zone     string
	rr       string
	typ      string
	value    string
	ttl      int64
	line     string
	priority int64
}

// fqdn is the record's full name.
func (r *record) fqdn() string {
	if r.rr == "@" {
		return r.zone
	}
	return r.rr + "." + r.zone
}

type pkgState struct {
	total    int
	used     int
	issued   int
	maxNames int
}

// dvInstance is a purchased DV certificate instance (CAS 2018-07-13); it carries at most one
// order for its whole life.
type dvInstance struct {
	id      string
	bought  time.Time
	order   *order
	product string
}

type userCert struct {
	id       int64
	name     string
	certPEM  string // leaf first, then the chain
	keyPEM   string
	leaf     *x509.Certificate
	upload   bool // uploaded by the user, not issued through CAS
	orderID  int64
	instance string
	created  time.Time
	tags     map[string]string // UploadUserCertificate Tags.N.Key/Value
}

// stsCred is a temporary credential issued by STS.
type stsCred struct {
	secret  string
	token   string
	expires time.Time
	roleArn string
	session string
}

func newState() *state {
	return &state{
		calls:       map[string]int{},
		placed:      map[string]int{},
		errors:      map[string]int{},
		zones:       map[string]*zone{},
		foreign:     map[string]bool{},
		records:     map[string]*record{},
		files:       map[string]string{},
		packages:    map[string]*pkgState{},
		orders:      map[int64]*order{},
		instanceIdx: map[string]*dvInstance{},
		certs:       map[int64]*userCert{},
		v2:          newV2State(),
		nonces:      map[string]time.Time{},
		stsKeys:     map[string]*stsCred{},
		stsTokens:   map[string]string{},
	}
}

// State is a snapshot of the simulator for tests: the same data GET /_sim/state answers.
type State struct {
	Calls            map[string]int          `json:"calls"`  // API calls per Action (any outcome)
	Errors           map[string]int          `json:"errors"` // error answers per Code
	Throttled        int                     `json:"throttled"`
	Faults           int                     `json:"faults"`
	Placed           map[string]int          `json:"placed"` // CAS 2020-04-07 orders ever placed per domain, deleted ones too
	Zones            []string                `json:"zones"`
	Orders           []OrderState            `json:"orders"`
	Records          []RecordState           `json:"records"`
	Packages         map[string]PackageState `json:"packages"`
	DVInstances      []DVInstanceState       `json:"dvInstances"`
	UserCertificates []UserCertState         `json:"userCertificates"`
	Instances        []InstanceState         `json:"instances"` // V2.0 subscription instances
	Files            map[string]string       `json:"files"`
}

// OrderState is one certificate order of either API.
type OrderState struct {
	ID           string    `json:"id"`  // OrderId (2020-04-07) or InstanceId (2018-07-13)
	API          string    `json:"api"` // "2020-04-07" or "2018-07-13"
	Action       string    `json:"action"`
	Product      string    `json:"product"`
	Domains      []string  `json:"domains"`
	ValidateType string    `json:"validateType"`
	Status       string    `json:"status"` // as the order's own API spells it
	Created      time.Time `json:"created"`
	Validated    time.Time `json:"validated,omitzero"`
	// Issued is when the CA issued (not an Alibaba field).
	Issued time.Time `json:"issued,omitzero"`
	CSR    bool      `json:"csr"` // the key came from a CSR
	Token  string    `json:"token"`
	CertID int64     `json:"certId,omitempty"`
	Serial string    `json:"serial,omitempty"`
}

// RecordState is one Alidns record.
type RecordState struct {
	ID    string `json:"id"`
	Zone  string `json:"zone"`
	RR    string `json:"rr"`
	Type  string `json:"type"`
	Value string `json:"value"`
	TTL   int64  `json:"ttl"`
}

// PackageState is the quota of one product.
type PackageState struct {
	Total  int `json:"total"`
	Used   int `json:"used"`
	Issued int `json:"issued"`
}

// DVInstanceState is one purchased DV instance.
type DVInstanceState struct {
	ID     string `json:"id"`
	Status string `json:"status"` // PAYED, CHECKING, CHECKED_FAIL, ISSUED
}

// UserCertState is one certificate of the account's certificate list.
type UserCertState struct {
	ID      int64    `json:"id"`
	Name    string   `json:"name"`
	Domains []string `json:"domains"`
	Upload  bool     `json:"upload"`
	OrderID int64    `json:"orderId,omitempty"`
	Serial  string   `json:"serial"`
	// Tags are the upload's tags (UploadUserCertificate).
	Tags map[string]string `json:"tags,omitempty"`
}

// snapshot builds the State; the caller holds s.mu and has advanced the orders.
func (st *state) snapshot(now time.Time) State {
	out := State{
		Calls:            copyCounts(st.calls),
		Errors:           copyCounts(st.errors),
		Throttled:        st.throttled,
		Faults:           st.faults,
		Placed:           copyCounts(st.placed),
		Zones:            []string{},
		Orders:           []OrderState{},
		Records:          []RecordState{},
		Packages:         map[string]PackageState{},
		DVInstances:      []DVInstanceState{},
		UserCertificates: []UserCertState{},
		Files:            map[string]string{},
	}
	for name := range st.zones {
		out.Zones = append(out.Zones, name)
	}
	sort.Strings(out.Zones)
	for _, o := range st.orders {
		out.Orders = append(out.Orders, o.snapshot(strconv.FormatInt(o.id, 10), now))
	}
	for _, inst := range st.instances {
		out.DVInstances = append(out.DVInstances, DVInstanceState{ID: inst.id, Status: inst.status()})
		if inst.order != nil {
			out.Orders = append(out.Orders, inst.order.snapshot(inst.id, now))
		}
	}
	sort.Slice(out.Orders, func(i, j int) bool {
		a, b := out.Orders[i], out.Orders[j]
		if !a.Created.Equal(b.Created) {
			return a.Created.Before(b.Created)
		}
		if a.API != b.API {
			return a.API < b.API
		}
		return len(a.ID) < len(b.ID) || len(a.ID) == len(b.ID) && a.ID < b.ID
	})
	for _, r := range st.sortedRecords() {
		out.Records = append(out.Records, RecordState{ID: r.id, Zone: r.zone, RR: r.rr, Type: r.typ, Value: r.value, TTL: r.ttl})
	}
	for code, p := range st.packages {
		out.Packages[code] = PackageState{Total: p.total, Used: p.used, Issued: p.issued}
	}
	for _, c := range st.sortedCerts() {
		out.UserCertificates = append(out.UserCertificates, UserCertState{
			ID: c.id, Name: c.name, Domains: certNames(c.leaf), Upload: c.upload, OrderID: c.orderID,
			Serial: c.leaf.SerialNumber.Text(16), Tags: copyTags(c.tags),
		})
	}
	for k, v := range st.files {
		out.Files[k] = v
	}
	return out
}

func copyCounts(m map[string]int) map[string]int {
	out := make(map[string]int, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// sortedRecords lists records in creation order (ids grow with time).
func (st *state) sortedRecords() []*record {
	out := make([]*record, 0, len(st.records))
	for _, r := range st.records {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool {
		a, _ := strconv.ParseInt(out[i].id, 10, 64)
		b, _ := strconv.ParseInt(out[j].id, 10, 64)
		return a < b
	})
	return out
}

// sortedCerts lists user certificates by id.
func (st *state) sortedCerts() []*userCert {
	out := make([]*userCert, 0, len(st.certs))
	for _, c := range st.certs {
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

// certNames is the CN (when not repeated) followed by the DNS SANs.
func certNames(c *x509.Certificate) []string {
	names := []string{}
	if cn := c.Subject.CommonName; cn != "" {
		names = append(names, cn)
	}
	for _, n := range c.DNSNames {
		if n != c.Subject.CommonName {
			names = append(names, n)
		}
	}
	return names
}
