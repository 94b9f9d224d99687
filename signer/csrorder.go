package signer

import (
	"context"
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Reasons of the CSR flow's outcomes.
const (
	ReasonDomainVerify   = "DomainVerify"
	ReasonCAReview       = "CAReview"
	ReasonVerifyFailed   = "VerifyFailed"
	ReasonOrderCancelled = "OrderCancelled"
	// ReasonPendingApplication: a fresh order answers "payed" (pending
	// application) for a while.
	ReasonPendingApplication = "PendingApplication"
	ReasonKeyMismatch        = "KeyMismatch"
	ReasonBadChain           = "BadChain"
	ReasonQuotaExhausted     = aliyun.ReasonQuotaExhausted
	ReasonOrderMaybeCreated  = "OrderMaybeCreated"
	ReasonOrderLookup        = "OrderLookup"
	ReasonStateNotSaved      = "StateNotSaved"
	ReasonUnknownOrderState  = "UnknownOrderState"
	ReasonBadOrderState      = "BadOrderState"
)

const (
	// clockSkew is how much earlier than our Creating mark an order found
	// by listing may have been stamped and still be ours.
	clockSkew = 2 * time.Minute
	// listPageSize and maxListPages bound the recovery listing.
	listPageSize = 50
	maxListPages = 20
)

// payedGrace is how long after a create "payed" counts as the fresh
// order's pending application rather than a cancellation (how long CAS
// shows it is not published).
const payedGrace = 10 * time.Minute

// csrSigner is the CAS 2020-04-07 flow: the CSR is sent as is, so the key
// never leaves the cluster.
type csrSigner struct {
	cfg    Config
	client *aliyun.Client
	now    func() time.Time
	// settle is how long after a create whose answer was lost the order
	// may take to show up in listings; until then no second create is made.
	settle time.Duration
	roots  *rootCache
	// dns, when set, creates and removes DNS validation records in Alidns.
	dns *alidnsProvider
}

func newCSRSigner(cfg Config, client *aliyun.Client) *csrSigner {
	return &csrSigner{cfg: cfg, client: client, now: time.Now, settle: cfg.Timeout, roots: newRootCache(cfg.Transport, cfg.Endpoints)}
}

// Sign advances the request's order by one step.
func (s *csrSigner) Sign(ctx context.Context, req Request, store StateStore) (Result, error) {
	csr, err := CheckRequest(req, s.cfg.ProductCode)
	if err != nil {
		return Result{}, err
	}
	st := req.State
	if st.OrderID == "" && st.Creating != nil {
		// A create may have happened without us seeing its answer: look
		// for it before ever ordering again.
		id, err := s.recoverOrder(ctx, csr, *st.Creating)
		if err != nil {
			return Result{}, err
		}
		if id != 0 {
			orderedAt := *st.Creating
			st.OrderID = strconv.FormatInt(id, 10)
			st.Creating = nil
			st.OrderedAt = &orderedAt
			if err := store.Save(ctx, st); err != nil {
				return Result{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording the recovered CAS order %d: %w", id, err))
			}
		}
	}
	if st.OrderID == "" {
		if s.dns != nil && s.cfg.ValidationMethod == "DNS" {
			// Nothing is ordered for a name the account cannot validate.
			if err := s.dns.checkNames(ctx, csr.Names); err != nil {
				return Result{}, err
			}
		}
		st, err = s.create(ctx, csr, st, store)
		if err != nil {
			return Result{}, err
		}
		if s.dns == nil {
			return s.firstLook(ctx, req, csr, st, store)
		}
		if err := s.saveOrderID(ctx, st, store); err != nil {
			return Result{}, err
		}
	}
	return s.poll(ctx, req, csr, st, store)
}

// firstLook polls a new order whose id is not saved yet. An order issued at
// once hands its state to the controller with the certificate; any other
// outcome saves the id before it is returned.
func (s *csrSigner) firstLook(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore) (Result, error) {
	res, err := s.poll(ctx, req, csr, st, store)
	if err == nil && len(res.Chain) > 0 {
		res.State = &st
		return res, nil
	}
	if serr := s.saveOrderID(ctx, st, store); serr != nil {
		return Result{}, serr
	}
	return res, err
}

func (s *csrSigner) saveOrderID(ctx context.Context, st OrderState, store StateStore) error {
	if err := store.Save(ctx, st); err != nil {
		// The intent is still recorded: the next Sign finds the order by
		// listing.
		return Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording CAS order %s: %w", st.OrderID, err))
	}
	return nil
}

// create places the order: intent first (saved), then the call; the
// returned state holds the new id, not saved yet.
func (s *csrSigner) create(ctx context.Context, csr *CheckedCSR, st OrderState, store StateStore) (OrderState, error) {
	now := s.now().UTC()
	st.Creating = &now
	if err := store.Save(ctx, st); err != nil {
		return st, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording the intent to order before ordering: %w", err))
	}
	id, err := s.client.CreateCertificateWithCsrRequest(ctx, aliyun.CSROrder{
		CSR:          string(csrPEM(csr.CSR)),
		ProductCode:  s.cfg.ProductCode,
		Username:     s.cfg.Contact.Username,
		Phone:        s.cfg.Contact.Phone,
		Email:        s.cfg.Contact.Email,
		ValidateType: s.cfg.ValidationMethod,
	})
	if err != nil {
		if e, ok := aliyun.AsError(err); ok && e.OutcomeUnknown {
			// Creating stays recorded: the next Sign looks the order up.
			return st, Transient(ReasonOrderMaybeCreated, s.settle,
				fmt.Errorf("the answer to the CAS order for %s was lost (%v); the order is looked up before ordering again", csr.MainDomain, err))
		}
		// Certainly not created: forget the intent (best effort; if this
		// fails the next Sign only lists once more).
		st.Creating = nil
		_ = store.Save(ctx, st)
		cerr := classify(err)
		if p, ok := AsPermanent(cerr); ok && csr.CommonName == "" && (p.Reason == aliyun.ReasonInvalidParameter || p.Reason == aliyun.ReasonRejected) {
			return st, &PermanentError{Reason: p.Reason, Err: fmt.Errorf("%w (the CSR has no Common Name and CAS takes the domain from it: set spec.commonName on the Certificate)", p.Err)}
		}
		return st, withContext(cerr, "ordering a certificate for %s", strings.Join(csr.Names, ", "))
	}
	st.OrderID = strconv.FormatInt(id, 10)
	st.Creating = nil
	st.OrderedAt = &now
	// Saved by the caller: at once, or with the certificate when the first
	// look finds it issued.
	return st, nil
}

// recoverOrder looks for an order a lost create may have placed: for the
// same names (see orderMatches), placed at or after the intent (minus clock
// skew; BuyDate is when CAS took the order). It returns 0
// when there is none and it is safe to order again.
func (s *csrSigner) recoverOrder(ctx context.Context, csr *CheckedCSR, creating time.Time) (int64, error) {
	since := creating.Add(-clockSkew)
	want := nameSet(csr.Names)
	var best *aliyun.CertificateOrder
	for page := 1; page <= maxListPages; page++ {
		l, err := s.client.ListUserCertificateOrder(ctx, aliyun.OrderQuery{
			OrderType: "CPACK", Keyword: csr.MainDomain, ShowSize: listPageSize, CurrentPage: page,
		})
		if err != nil {
			return 0, withContext(err, "looking up a CAS order for %s that may have been placed", csr.MainDomain)
		}
		for i := range l.CertificateOrderList {
			o := l.CertificateOrderList[i]
			created := o.Created()
			if o.OrderID == 0 || created.IsZero() || created.Before(since) || !orderMatches(o, csr, want) {
				continue
			}
			if best == nil || created.Before(best.Created()) {
				best = &o
			}
		}
		if len(l.CertificateOrderList) == 0 || int64(page*listPageSize) >= int64(l.TotalCount) {
			break
		}
	}
	if best != nil {
		return int64(best.OrderID), nil
	}
	if wait := creating.Add(s.settle).Sub(s.now()); wait > 0 {
		return 0, Transient(ReasonOrderLookup, wait,
			fmt.Errorf("no CAS order for %s found yet after an order whose answer was lost; looking again before ordering", csr.MainDomain))
	}
	return 0, nil
}

// orderMatches: a listed order is for this CSR. Package orders (CPACK)
// name only their main domain (Domain: the CSR's CN, else its first name),
// so that is what is compared; a listing that gives the SANs too is
// compared name for name.
func orderMatches(o aliyun.CertificateOrder, csr *CheckedCSR, want map[string]bool) bool {
	if o.Sans != "" || o.CommonName != "" {
		return sameNames(o.Names(), want)
	}
	return strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(o.Domain), "."), csr.MainDomain)
}

func nameSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

func sameNames(got []string, want map[string]bool) bool {
	g := nameSet(got)
	if len(g) != len(want) {
		return false
	}
	for n := range g {
		if !want[n] {
			return false
		}
	}
	return true
}

// pollAfter is when to look at a pending order again: PollInterval, then
// doubling with every interval that has passed since the order was placed,
// up to MaxPollInterval. It depends only on the state and the clock.
func (s *csrSigner) pollAfter(st OrderState) time.Duration {
	d := s.cfg.PollInterval
	if st.OrderedAt == nil {
		return d
	}
	elapsed := s.now().Sub(*st.OrderedAt)
	for elapsed >= d && d < s.cfg.MaxPollInterval {
		elapsed -= d
		d *= 2
	}
	return min(d, s.cfg.MaxPollInterval)
}

func (s *csrSigner) orderID(st OrderState) (int64, error) {
	id, err := strconv.ParseInt(st.OrderID, 10, 64)
	if err != nil || id <= 0 {
		return 0, Permanent(ReasonBadOrderState, "the recorded CAS order id %q is not a number", st.OrderID)
	}
	return id, nil
}

// poll interprets the order's state.
func (s *csrSigner) poll(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore) (Result, error) {
	id, err := s.orderID(st)
	if err != nil {
		return Result{}, err
	}
	cs, err := s.client.DescribeCertificateState(ctx, id)
	if err != nil {
		return Result{}, withContext(err, "looking at CAS order %d", id)
	}
	switch cs.Type {
	case aliyun.StateDomainVerify:
		v := validationFor(cs, csr)
		if s.dns != nil && v.Method == "DNS" {
			return s.dns.presentDNS(ctx, v, st, store, fmt.Sprintf("CAS order %d", id), s.pollAfter(st))
		}
		return Result{Pending: &Pending{
			Reason:     ReasonDomainVerify,
			Message:    fmt.Sprintf("%s (CAS order %d waits for domain validation)", v.Instruction(), id),
			RetryAfter: s.pollAfter(st),
			Validation: v,
		}}, nil
	case aliyun.StateProcess:
		return Result{Pending: &Pending{
			Reason:     ReasonCAReview,
			Message:    fmt.Sprintf("domain validation passed; the CA is reviewing CAS order %d", id),
			RetryAfter: s.pollAfter(st),
		}}, nil
	case aliyun.StateCertificate:
		res, err := s.issued(ctx, req, csr, id, cs)
		if err == nil && s.dns != nil && len(st.ValidationRecords) > 0 {
			res.Notes = append(res.Notes, s.dns.removeRecords(ctx, st, store)...)
		}
		return res, err
	case aliyun.StateVerifyFail:
		domain := cs.Domain
		if domain == "" {
			domain = strings.Join(csr.Names, ", ")
		}
		note := ""
		// The order can never be revived; deleting it gives its quota
		// back. Best effort: the failure is what matters here.
		if err := s.client.DeleteCertificateRequest(ctx, id); err == nil {
			note = "; the order was deleted to release its quota"
		}
		return Result{}, Permanent(ReasonVerifyFailed, "the CA could not validate %s for CAS order %d%s", domain, id, note)
	case aliyun.StatePayed:
		// "payed" is pending application (待申请): a fresh order may show it
		// before it asks for validation, and a cancelled one shows it for
		// good. Only the second is final.
		if st.OrderedAt != nil && s.now().Sub(*st.OrderedAt) < payedGrace {
			return Result{Pending: &Pending{
				Reason:     ReasonPendingApplication,
				Message:    fmt.Sprintf("CAS order %d is pending application (state %q); looking again", id, cs.Type),
				RetryAfter: s.pollAfter(st),
			}}, nil
		}
		return Result{}, Permanent(ReasonOrderCancelled, "CAS order %d was cancelled before issuance (state %q)", id, cs.Type)
	default:
		return Result{}, Transient(ReasonUnknownOrderState, s.pollAfter(st),
			fmt.Errorf("CAS reports order %d in state %q; looking again later", id, cs.Type))
	}
}

// issued checks and returns the certificate of an issued order.
func (s *csrSigner) issued(ctx context.Context, req Request, csr *CheckedCSR, id int64, cs *aliyun.CertificateState) (Result, error) {
	chain, err := ParseChain([]byte(cs.Certificate))
	if err != nil {
		return Result{}, Permanent(ReasonBadChain, "CAS order %d is issued but its certificate is unusable: %v", id, err)
	}
	if !samePublicKey(chain.Leaf.PublicKey, csr.CSR.PublicKey) {
		return Result{}, Permanent(ReasonKeyMismatch, "the certificate of CAS order %d is not for the CSR's key", id)
	}
	leaf := chain.Leaf
	res := Result{Chain: chain.ChainPEM(), Leaf: leaf}
	res.Notes = append(res.Notes, fmt.Sprintf("CAS order %d issued a certificate valid until %s", id, leaf.NotAfter.UTC().Format(time.RFC3339)))
	if root, err := s.roots.root(ctx, chain); err == nil {
		res.CA = encodePEM(root)
	} else {
		res.Notes = append(res.Notes, fmt.Sprintf("the root CA of CAS order %d is unknown, so ca.crt stays empty: %v", id, err))
	}
	if req.Duration > 0 {
		got := leaf.NotAfter.Sub(leaf.NotBefore)
		if diff := got - req.Duration; diff > time.Minute || diff < -time.Minute {
			res.Notes = append(res.Notes, fmt.Sprintf("the requested duration %s is not honoured by CAS: the certificate is valid for %s, until %s",
				req.Duration, got.Round(time.Second), leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	return res, nil
}

// validationFor builds the proof the CA waits for.
func validationFor(cs *aliyun.CertificateState, csr *CheckedCSR) *Validation {
	domain := strings.ToLower(strings.TrimSuffix(cs.Domain, "."))
	if domain == "" {
		domain = csr.MainDomain
	}
	base := strings.TrimPrefix(domain, "*.")
	method := strings.ToUpper(cs.ValidateType)
	if method == "" {
		if cs.URI != "" || cs.Content != "" {
			method = "FILE"
		} else {
			method = "DNS"
		}
	}
	v := &Validation{Domain: domain, Method: method}
	if method == "FILE" {
		uri := cs.URI
		if !strings.HasPrefix(uri, "/") {
			uri = "/" + uri
		}
		v.FileURL = "http://" + base + uri
		v.FileContent = cs.Content
		return v
	}
	v.RecordName = recordName(cs.RecordDomain, base)
	v.RecordType = strings.ToUpper(cs.RecordType)
	if v.RecordType == "" {
		v.RecordType = "TXT"
	}
	v.RecordValue = cs.RecordValue
	return v
}

// recordName is the full name of a validation record. CAS gives the host
// record (主机记录) relative to the domain ("_dnsauth"), relative to the
// zone ("_dnsauth.www" for www.example.com in example.com), or in full;
// the record always lives at _dnsauth.<domain>, so a relative form whose
// tail is the head of the domain is not doubled.
func recordName(recordDomain, base string) string {
	rd := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(recordDomain), "."))
	switch {
	case rd == "":
		return base
	case rd == base || strings.HasSuffix(rd, "."+base):
		return rd
	}
	label, rest, relative := strings.Cut(rd, ".")
	if relative && strings.HasPrefix(base, rest+".") {
		return label + "." + base
	}
	return rd + "." + base
}

// Instruction tells a person what to create, e.g.
// "create DNS TXT record _dnsauth.www.example.com = <value>".
func (v *Validation) Instruction() string {
	if v.Method == "FILE" {
		return fmt.Sprintf("serve %s with content %s", v.FileURL, v.FileContent)
	}
	return fmt.Sprintf("create DNS %s record %s = %s", v.RecordType, v.RecordName, v.RecordValue)
}

// Cancel gives back what a request holds remotely: an order that is not
// issued is cancelled and deleted, so that its quota returns. Orders that
// are gone or already final are left alone.
func (s *csrSigner) Cancel(ctx context.Context, st OrderState) error {
	if s.dns != nil && len(st.ValidationRecords) > 0 {
		if _, _, err := s.dns.cleanUp(ctx, st); err != nil {
			return err
		}
	}
	if st.OrderID == "" {
		return nil
	}
	id, err := s.orderID(st)
	if err != nil {
		return nil
	}
	cs, err := s.client.DescribeCertificateState(ctx, id)
	if err != nil {
		return ignorePermanent(withContext(err, "looking at CAS order %d before cancelling it", id))
	}
	switch cs.Type {
	case aliyun.StateCertificate:
		return nil
	case aliyun.StatePayed, aliyun.StateVerifyFail:
	default:
		if err := s.client.CancelOrderRequest(ctx, id); err != nil {
			if err := ignorePermanent(withContext(err, "cancelling CAS order %d", id)); err != nil {
				return err
			}
		}
	}
	if err := s.client.DeleteCertificateRequest(ctx, id); err != nil {
		return ignorePermanent(withContext(err, "deleting CAS order %d", id))
	}
	return nil
}

// ignorePermanent drops permanent failures: for a clean-up they mean the
// thing is already gone or in a state that needs nothing more.
func ignorePermanent(err error) error {
	if _, ok := AsPermanent(err); ok {
		return nil
	}
	return err
}

// Check reads the product's package quota.
func (s *csrSigner) Check(ctx context.Context) (Health, error) {
	ps, err := s.client.DescribePackageState(ctx, s.cfg.ProductCode)
	if err != nil {
		return Health{UsableInstances: -1}, checkError(err, "reading the quota of product %s", s.cfg.ProductCode)
	}
	h := Health{Total: int(ps.TotalCount), Used: int(ps.UsedCount), Issued: int(ps.IssuedCount), UsableInstances: -1}
	if w := aliyun.SiteWarning(s.cfg.Endpoint, s.cfg.ProductCode); w != "" {
		h.Warnings = append(h.Warnings, w)
	}
	return h, nil
}

// checkError classifies a health-check failure: what would fail a request
// (e.g. an unknown product) is the issuer's configuration here.
func checkError(err error, format string, args ...any) error {
	err = withContext(err, format, args...)
	if p, ok := AsPermanent(err); ok {
		return &IssuerError{Reason: p.Reason, Err: p.Err}
	}
	return err
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

func csrPEM(csr *x509.CertificateRequest) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})
}
