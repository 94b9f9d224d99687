package aliyunsim

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
	"time"
)

// The certificate order life cycle shared by both CAS APIs. Orders move on lazily: whenever
// a call looks at an order, advance brings it up to date with the clock. No goroutines, so a
// test's view and the API's view can never disagree.
//
//	verify  --proof seen (or auto)--> [ValidationDelay] --> process --[IssueDelay]--> issued
//	verify  --fail domain--> [ValidationDelay] --> failed
//	verify/process --CancelOrderRequest--> cancelled (2020: "payed")

type phase int

const (
	phaseVerify    phase = iota // waiting for the domain owner's proof
	phaseProcess                // proof accepted, the CA is reviewing
	phaseIssued                 // certificate signed
	phaseFailed                 // validation failed
	phaseCancelled              // cancelled before issuance (2020 "payed")
)

// fileAuthPath is where FILE validation expects the proof, below each domain.
const fileAuthPath = "/.well-known/pki-validation/fileauth.txt"

// dnsAuthLabel is the host label of the DNS proof, as in `_dnsauth.<domain>`.
const dnsAuthLabel = "_dnsauth"

type order struct {
	id       int64  // OrderId (2020-04-07)
	instance string // InstanceId (2018-07-13)
	api      string
	action   string
	product  product

	domains      []string
	cn           string
	validateType string // DNS or FILE
	recordType   string // TXT or CNAME, for DNS
	token        string // the proof value, one per order
	pub          crypto.PublicKey
	fromCSR      bool
	fail         bool

	created     time.Time
	payedUntil  time.Time       // "payed" (pending application) until then
	proven      map[string]bool // domains whose proof was seen
	validatedAt time.Time       // when every domain was proven
	phase       phase

	// issuedAt is when the CA issued: when the delays after the proof had passed (the order
	// moves on lazily, so this is earlier than the call that saw it).
	issuedAt time.Time
	leaf     *x509.Certificate
	chainPEM string
	keyPEM   string
	certID   int64
}

func (s *Simulator) newOrder(api, action string, p product, domains []string, validateType string, now time.Time) *order {
	o := &order{
		api: api, action: action, product: p, domains: domains, cn: domains[0],
		validateType: validateType, recordType: s.rt.recordType, token: randomLowerAlnum(32), created: now, proven: map[string]bool{},
	}
	if api == VersionCAS2020 {
		o.payedUntil = now.Add(s.rt.payedWindow)
	}
	for _, d := range domains {
		if s.isFailDomain(d) {
			o.fail = true
		}
	}
	if s.rt.validation == ValidationAuto && !o.fail {
		o.validatedAt = now
	}
	return o
}

func (s *Simulator) isFailDomain(d string) bool {
	d = baseDomain(d)
	for _, f := range s.cfg.FailDomains {
		if d == f || strings.HasSuffix(d, "."+f) {
			return true
		}
	}
	return false
}

// advance brings o up to date; the caller holds s.mu.
func (s *Simulator) advance(o *order) {
	now := s.now()
	if o.phase == phaseVerify {
		switch {
		case o.fail:
			if !now.Before(o.created.Add(s.rt.validationDelay)) {
				o.phase = phaseFailed
			}
			return
		case o.validatedAt.IsZero():
			if s.rt.validation == ValidationAuto || s.allProven(o) {
				o.validatedAt = now
			}
		}
		if o.validatedAt.IsZero() || now.Before(o.validatedAt.Add(s.rt.validationDelay)) {
			return
		}
		o.phase = phaseProcess
	}
	if o.phase == phaseProcess && !now.Before(o.validatedAt.Add(s.rt.validationDelay+s.rt.issueDelay)) {
		if err := s.issue(o, now); err != nil {
			// Stay in process: the next look tries again.
			s.logf("aliyunsim: issuing for order %s: %v", o.name(), err)
		}
	}
}

// advanceAll brings every order up to date (for listings and the state snapshot).
func (s *Simulator) advanceAll() {
	for _, o := range s.st.orders {
		s.advance(o)
	}
	for _, inst := range s.st.instances {
		if inst.order != nil {
			s.advance(inst.order)
		}
	}
	s.advanceInstances()
}

// allProven records the proofs that exist now and reports whether every domain has one.
func (s *Simulator) allProven(o *order) bool {
	all := true
	for _, d := range o.domains {
		if !o.proven[d] && s.proofExists(o, d) {
			o.proven[d] = true
		}
		all = all && o.proven[d]
	}
	return all
}

// firstUnproven is the domain the order asks the user about next.
func (o *order) firstUnproven() string {
	for _, d := range o.domains {
		if !o.proven[d] {
			return d
		}
	}
	return o.domains[0]
}

// cnameProofZone is where a CNAME proof points: `<token>.<cnameProofZone>` (the CA's own
// validation zone; the name is the simulator's, unverified).
const cnameProofZone = "dnsauth.sim-ca.invalid"

// proofValue is the RecordValue of a DNS proof: the token for TXT, a name under the CA's
// validation zone for CNAME.
func (o *order) proofValue() string {
	if o.recordType == "CNAME" {
		return o.token + "." + cnameProofZone
	}
	return o.token
}

// recordDomain is the host record (RecordDomain) of the DNS proof for domain, in the configured
// form: "_dnsauth", or relative to the zone that holds the domain ("_dnsauth.www" for
// www.example.com in example.com). Either way the record's full name is `_dnsauth.<base>`.
func (s *Simulator) recordDomain(domain string) string {
	if s.rt.recordForm != RecordDomainRelative {
		return dnsAuthLabel
	}
	base := baseDomain(domain)
	zone, _ := s.zoneOf(base)
	if zone == "" {
		zone = registrableDomain(base)
	}
	if base == zone || zone == "" {
		return dnsAuthLabel
	}
	return dnsAuthLabel + "." + strings.TrimSuffix(base, "."+zone)
}

// proofExists looks for the proof of one domain: a record `_dnsauth.<base>` of the order's type
// holding its value in one of the account's Alidns zones, or the token served at
// `<domain>/.well-known/pki-validation/fileauth.txt`.
func (s *Simulator) proofExists(o *order, domain string) bool {
	base := baseDomain(domain)
	if o.validateType == "FILE" {
		return strings.TrimSpace(s.st.files[base+fileAuthPath]) == o.token
	}
	name := dnsAuthLabel + "." + base
	want := o.proofValue()
	for _, r := range s.st.records {
		if r.typ == o.recordType && strings.EqualFold(strings.TrimSuffix(r.value, "."), want) && r.fqdn() == name {
			return true
		}
	}
	return false
}

// issue signs the order's certificate, with the CSR's key or one generated for the user, and
// files it in the account's certificate list.
func (s *Simulator) issue(o *order, now time.Time) error {
	pub := o.pub
	if !o.fromCSR {
		key, err := s.keys.get()
		if err != nil {
			return err
		}
		pub = key.Public()
		o.keyPEM = string(pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key)))
	}
	leaf, err := s.ca.issue(pub, o.cn, o.domains, nil, o.product.validity(), now)
	if err != nil {
		return err
	}
	o.leaf = leaf
	o.chainPEM = string(pemBlock("CERTIFICATE", leaf.Raw)) + string(s.ca.interPEM)
	o.phase = phaseIssued
	o.issuedAt = now
	if due := o.validatedAt.Add(s.rt.validationDelay + s.rt.issueDelay); !o.validatedAt.IsZero() && due.Before(now) {
		o.issuedAt = due
	}

	s.st.nextCert++
	o.certID = s.st.nextCert
	s.st.certs[o.certID] = &userCert{
		id: o.certID, name: fmt.Sprintf("cert-%d", o.certID), certPEM: o.chainPEM, keyPEM: o.keyPEM,
		leaf: leaf, orderID: o.id, instance: o.instance, created: now,
	}
	if p := s.st.packages[o.product.Code]; p != nil && o.api == VersionCAS2020 {
		p.issued++
	}
	return nil
}

// pemOut applies the CertCRLF switch to PEM text in answers.
func (s *Simulator) pemOut(p string) string {
	if s.rt.certCRLF {
		return strings.ReplaceAll(p, "\n", "\r\n")
	}
	return p
}

func (o *order) name() string {
	if o.instance != "" {
		return o.instance
	}
	return fmt.Sprint(o.id)
}

// pendingApplication: a fresh order still in its "payed" window.
func (o *order) pendingApplication(now time.Time) bool {
	return o.phase == phaseVerify && now.Before(o.payedUntil)
}

// status2020 is DescribeCertificateState's Type. "payed" (待申请, pending application) is both
// the state of a fresh order in its payed window and that of a cancelled one.
func (o *order) status2020(now time.Time) string {
	if o.pendingApplication(now) {
		return "payed"
	}
	switch o.phase {
	case phaseVerify:
		return "domain_verify"
	case phaseProcess:
		return "process"
	case phaseIssued:
		return "certificate"
	case phaseFailed:
		return "verify_fail"
	case phaseCancelled:
		return "payed"
	}
	return "unknow" // sic, Alibaba's spelling
}

// status2018 is DescribeDVOrderResult's OrderStatus.
func (o *order) status2018() string {
	switch o.phase {
	case phaseIssued:
		return "issued"
	case phaseFailed:
		return "checked_fail"
	}
	return "checking"
}

// listStatus is the upper-case status of order listings (ListUserCertificateOrder,
// DescribeOrderInstanceList).
func (o *order) listStatus(now time.Time) string {
	switch o.phase {
	case phaseVerify, phaseProcess:
		return "CHECKING"
	case phaseFailed:
		return "CHECKED_FAIL"
	case phaseCancelled:
		return "PAYED"
	case phaseIssued:
		return certStatus(o.leaf, now)
	}
	return "NOTACTIVATED"
}

// certStatus is ISSUED, WILLEXPIRED (within 30 days of the end, unverified threshold) or
// EXPIRED.
func certStatus(c *x509.Certificate, now time.Time) string {
	switch {
	case !now.Before(c.NotAfter):
		return "EXPIRED"
	case c.NotAfter.Sub(now) < 30*24*time.Hour:
		return "WILLEXPIRED"
	}
	return "ISSUED"
}

func (o *order) status(now time.Time) string {
	if o.api == VersionCAS2018 {
		return o.status2018()
	}
	return o.status2020(now)
}

func (o *order) snapshot(id string, now time.Time) OrderState {
	os := OrderState{
		ID: id, API: o.api, Action: o.action, Product: o.product.Code,
		Domains: append([]string(nil), o.domains...), ValidateType: o.validateType, Status: o.status(now),
		Created: o.created, Validated: o.validatedAt, Issued: o.issuedAt, CSR: o.fromCSR, Token: o.token, CertID: o.certID,
	}
	if o.leaf != nil {
		os.Serial = o.leaf.SerialNumber.Text(16)
	}
	return os
}

// dvInstance status in DescribeOrderInstanceList and the state snapshot.
func (inst *dvInstance) status() string {
	if inst.order == nil {
		return "PAYED"
	}
	switch inst.order.phase {
	case phaseIssued:
		return "ISSUED"
	case phaseFailed:
		return "CHECKED_FAIL"
	}
	return "CHECKING"
}

// decodeLeaf returns the first certificate of a PEM chain.
func decodeLeaf(chain string) (*x509.Certificate, []*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := []byte(chain)
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, nil, err
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, nil, fmt.Errorf("no CERTIFICATE PEM block")
	}
	return certs[0], certs[1:], nil
}
