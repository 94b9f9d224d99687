package signer

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The CAS 2018-07-13 flow: an order is placed on a purchased certificate
// instance (one instance, one certificate) and Alibaba Cloud generates the
// private key. The instance id is recorded on the request before
// CreateDVOrderAudit, so that a restart resumes by DescribeDVOrderResult and
// never orders twice. Because the issued certificate cannot match the key of
// cert-manager's CSR, the flow hands the server key back for adoption (see
// Result.AdoptKeyPEM); cert-manager then asks again with that key and the
// flow answers from the recorded instance.

// Reasons of the DV flow's outcomes.
const (
	ReasonKeyAdoptionOff     = "KeyAdoptionOff"
	ReasonNoNextKeySecret    = "NoNextPrivateKeySecret"
	ReasonDVKeyUnsupported   = "DVKeyUnsupported"
	ReasonNoUsableInstance   = "NoUsableInstance"
	ReasonInstanceInUse      = "InstanceInUse"
	ReasonAdoptedKeyMismatch = "AdoptedKeyMismatch"
	ReasonKeyAdopted         = "KeyAdopted"
)

const (
	// dvKeyBits is the only key Alibaba Cloud generates for DV orders.
	dvKeyBits = 2048
	// maxInstancePages bounds one walk through DescribeOrderInstanceList.
	maxInstancePages = 200
)

// dvOrderSigner is the CAS 2018-07-13 flow.
type dvOrderSigner struct {
	cfg    Config
	client *aliyun.Client
	now    func() time.Time
	roots  *rootCache
	// dns, when set, creates and removes DNS validation records in Alidns.
	dns *alidnsProvider

	// mu guards reserved: the instances this process handed to a request
	// (instance id -> request name), so that two requests signed at the
	// same time never pick the same instance even before their annotations
	// are visible to others.
	mu       sync.Mutex
	reserved map[string]string
}

func newDVOrderSigner(cfg Config, client *aliyun.Client) *dvOrderSigner {
	return &dvOrderSigner{cfg: cfg, client: client, now: time.Now, roots: newRootCache(cfg.Transport, cfg.Endpoints), reserved: map[string]string{}}
}

// Sign advances the request's DV order by one step.
func (s *dvOrderSigner) Sign(ctx context.Context, req Request, store StateStore) (Result, error) {
	csr, err := s.check(req)
	if err != nil {
		return Result{}, err
	}
	st := req.State
	if st.InstanceID == "" && req.AdoptedInstanceID != "" {
		// The request was built from a key this issuer adopted: answer it
		// from the instance recorded on the key's Secret.
		st.InstanceID = req.AdoptedInstanceID
		now := s.now().UTC()
		st.OrderedAt = &now
		s.reserve(st.InstanceID, req.Name)
		if err := store.Save(ctx, st); err != nil {
			return Result{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording CAS instance %s of the adopted key: %w", st.InstanceID, err))
		}
		return s.poll(ctx, req, csr, st, nil, store)
	}
	if st.InstanceID == "" {
		return s.order(ctx, req, csr, st, store)
	}
	s.reserve(st.InstanceID, req.Name)
	if st.OrderedAt == nil {
		// Reserved, but the order is not known to exist: a restart between
		// the reservation and the create, or a create whose answer was
		// lost. The instance itself tells.
		r, exists, err := s.describe(ctx, st.InstanceID)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			return s.create(ctx, req, csr, st, store, true)
		}
		st, err = s.adoptOrder(ctx, st, store)
		if err != nil {
			return Result{}, err
		}
		return s.interpret(ctx, req, csr, st, r, store)
	}
	return s.poll(ctx, req, csr, st, nil, store)
}

// check refuses locally, before anything is ordered, what the DV flow can
// never turn into a certificate cert-manager accepts.
func (s *dvOrderSigner) check(req Request) (*CheckedCSR, error) {
	if !s.cfg.DVOrder.AdoptServerKey {
		return nil, Permanent(ReasonKeyAdoptionOff,
			"orderAPI %s: Alibaba Cloud generates the private key of DV orders, so the certificate cannot match the request's key; set spec.dvOrder.adoptServerKey: true (and grant the issuer Secret updates) to let it adopt the server key, or use orderAPI %s", OrderAPIDVOrder, OrderAPICSR)
	}
	// Wildcards depend on the purchased instance, which CAS checks itself.
	csr, err := CheckRequest(req, "")
	if err != nil {
		return nil, err
	}
	if k, ok := csr.CSR.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != dvKeyBits {
		return nil, Permanent(ReasonDVKeyUnsupported,
			"orderAPI %s: Alibaba Cloud generates RSA %d keys for DV orders, and cert-manager keeps an adopted key only if it matches the Certificate's spec.privateKey; the request's key is %s: set spec.privateKey algorithm RSA, size %d", OrderAPIDVOrder, dvKeyBits, csr.Key, dvKeyBits)
	}
	if req.NextPrivateKeySecret == "" {
		return nil, Permanent(ReasonNoNextKeySecret,
			"orderAPI %s needs the request's annotation cert-manager.io/private-key-secret-name (the Certificate's next private key Secret) to adopt the server-generated key; requests not made by cert-manager for a Certificate cannot be served", OrderAPIDVOrder)
	}
	return csr, nil
}

// order picks a free instance, reserves it on the request, then creates.
func (s *dvOrderSigner) order(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore) (Result, error) {
	candidates, err := s.usableInstances(ctx)
	if err != nil {
		return Result{}, err
	}
	taken := map[string]bool{}
	if req.InstanceTaken != nil {
		for _, id := range candidates {
			t, err := req.InstanceTaken(ctx, id)
			if err != nil {
				return Result{}, Transient(ReasonOrderLookup, 0, fmt.Errorf("looking up which CAS instances other requests hold: %w", err))
			}
			taken[id] = t
		}
	}
	id := s.pick(candidates, taken, req.Name)
	if id == "" {
		return Result{Pending: &Pending{
			Reason:     ReasonNoUsableInstance,
			Message:    s.noInstanceMessage(len(candidates)),
			RetryAfter: s.cfg.MaxPollInterval,
		}}, nil
	}
	st.InstanceID = id
	return s.create(ctx, req, csr, st, store, false)
}

func (s *dvOrderSigner) noInstanceMessage(usable int) string {
	what := "purchased DV certificate instances"
	if len(s.cfg.DVOrder.InstanceIDs) > 0 {
		what = "instances of spec.dvOrder.instanceIDs"
	}
	if usable == 0 {
		return fmt.Sprintf("no usable DV instance: all %s are used; waiting for one (buy more DV instances)", what)
	}
	return fmt.Sprintf("no usable DV instance: the %d unused %s are all held by other requests; waiting for one (buy more DV instances, or wait for the other requests to finish)", usable, what)
}

// pick reserves and returns the first candidate no other request holds.
func (s *dvOrderSigner) pick(candidates []string, taken map[string]bool, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range candidates {
		if taken[id] {
			continue
		}
		if holder, ok := s.reserved[id]; ok && holder != name {
			continue
		}
		s.reserved[id] = name
		return id
	}
	return ""
}

func (s *dvOrderSigner) reserve(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reserved[id]; !ok {
		s.reserved[id] = name
	}
}

func (s *dvOrderSigner) unreserve(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reserved[id] == name {
		delete(s.reserved, id)
	}
}

// create records the intent (instance and Creating mark), applies for the
// certificate, records that the order exists, and looks at it once.
// resumed says the instance was reserved by an earlier call.
func (s *dvOrderSigner) create(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore, resumed bool) (Result, error) {
	if s.dns != nil && s.cfg.ValidationMethod == "DNS" {
		// Nothing is ordered for a name the account cannot validate: the
		// instance is given back unused.
		if err := s.dns.checkNames(ctx, csr.Names); err != nil {
			failed := st.InstanceID
			st.InstanceID, st.Creating = "", nil
			if serr := store.Save(ctx, st); serr != nil {
				return Result{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("releasing CAS instance %s, as nothing can be ordered: %w", failed, serr))
			}
			s.unreserve(failed, req.Name)
			return Result{}, err
		}
	}
	now := s.now().UTC()
	st.Creating = &now
	if err := store.Save(ctx, st); err != nil {
		if !resumed {
			s.unreserve(st.InstanceID, req.Name)
		}
		return Result{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording CAS instance %s before ordering on it: %w", st.InstanceID, err))
	}
	err := s.client.CreateDVOrderAudit(ctx, aliyun.DVOrderAudit{
		InstanceID:       st.InstanceID,
		Domains:          csr.Names,
		DomainVerifyType: s.cfg.ValidationMethod,
		Username:         s.cfg.Contact.Username,
		Email:            s.cfg.Contact.Email,
		Mobile:           s.cfg.Contact.Phone,
		Province:         s.cfg.Contact.Province,
		City:             s.cfg.Contact.City,
	})
	if err != nil {
		if e, ok := aliyun.AsError(err); ok && e.OutcomeUnknown {
			// Creating stays recorded: the next Sign asks the instance.
			return Result{}, Transient(ReasonOrderMaybeCreated, 0,
				fmt.Errorf("the answer to the DV order on CAS instance %s for %s was lost (%v); the instance is looked at before ordering again", st.InstanceID, csr.MainDomain, err))
		}
		// What CAS answers for an instance that already carries an order is
		// not published: the instance list's Status says.
		has, herr := s.refusedForOrder(ctx, st.InstanceID, err)
		if herr != nil {
			return Result{}, herr
		}
		if has {
			if resumed {
				// Our own earlier create got through after all.
				r, exists, derr := s.describe(ctx, st.InstanceID)
				if derr != nil {
					return Result{}, derr
				}
				if exists {
					if st, derr = s.adoptOrder(ctx, st, store); derr != nil {
						return Result{}, derr
					}
					return s.interpret(ctx, req, csr, st, r, store)
				}
			}
			// Someone else ordered on it meanwhile: give it up (the
			// reservation stays, so this process never picks it again) and
			// pick another one.
			failed := st.InstanceID
			st.InstanceID, st.Creating = "", nil
			if serr := store.Save(ctx, st); serr != nil {
				return Result{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("releasing CAS instance %s, which already carries an order: %w", failed, serr))
			}
			return Result{}, Transient(ReasonInstanceInUse, 0, fmt.Errorf("CAS instance %s already carries an order; another instance is picked: %w", failed, err))
		}
		// Certainly not created: give the instance back.
		failed := st.InstanceID
		st.InstanceID, st.Creating = "", nil
		if serr := store.Save(ctx, st); serr == nil {
			s.unreserve(failed, req.Name)
		}
		return Result{}, withContext(err, "ordering a DV certificate for %s on CAS instance %s", strings.Join(csr.Names, ", "), failed)
	}
	st.Creating = nil
	st.OrderedAt = &now
	if err := store.Save(ctx, st); err != nil {
		// The instance is recorded: the next Sign finds the order on it.
		return Result{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording the DV order on CAS instance %s: %w", st.InstanceID, err))
	}
	return s.poll(ctx, req, csr, st, nil, store)
}

// adoptOrder records that the reserved instance carries an order.
func (s *dvOrderSigner) adoptOrder(ctx context.Context, st OrderState, store StateStore) (OrderState, error) {
	at := s.now().UTC()
	if st.Creating != nil {
		at = *st.Creating
	}
	st.Creating = nil
	st.OrderedAt = &at
	if err := store.Save(ctx, st); err != nil {
		return st, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording the DV order found on CAS instance %s: %w", st.InstanceID, err))
	}
	return st, nil
}

// describe asks an instance for its order; exists is false when it has none.
func (s *dvOrderSigner) describe(ctx context.Context, id string) (*aliyun.DVOrderResult, bool, error) {
	r, err := s.client.DescribeDVOrderResult(ctx, id)
	if err != nil {
		// What CAS answers for an instance without an order is not
		// published: the instance list's Status says whether it has one.
		has, herr := s.refusedForOrder(ctx, id, err)
		if herr != nil {
			return nil, false, herr
		}
		if !has && isRefusal(err) {
			return nil, false, nil
		}
		return nil, false, withContext(err, "looking at the DV order of CAS instance %s", id)
	}
	return r, true, nil
}

// isRefusal: CAS answered and refused (not a transient or configuration
// failure).
func isRefusal(err error) bool {
	e, ok := aliyun.AsError(err)
	return ok && e.Class == aliyun.Permanent
}

// refusedForOrder tells, after CAS refused a call on an instance, whether
// the instance carries an order: DescribeOrderInstanceList's Status (PAYED
// or Paid: none yet) is the documented source. err is the refusal; other
// failures are not looked into (has is false).
func (s *dvOrderSigner) refusedForOrder(ctx context.Context, id string, err error) (bool, error) {
	if !isRefusal(err) {
		return false, nil
	}
	all, lerr := s.listInstances(ctx)
	if lerr != nil {
		return false, withContext(lerr, "listing the purchased certificate instances after CAS refused a call on %s (%v)", id, err)
	}
	for _, o := range all {
		if o.InstanceID == id {
			return !strings.EqualFold(o.Status, "PAYED") && !strings.EqualFold(o.Status, "Paid"), nil
		}
	}
	return false, withContext(err, "CAS instance %s is not among the purchased instances", id)
}

// poll looks at the order (r when already fetched) and interprets it.
func (s *dvOrderSigner) poll(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, r *aliyun.DVOrderResult, store StateStore) (Result, error) {
	if r == nil {
		var exists bool
		var err error
		r, exists, err = s.describe(ctx, st.InstanceID)
		if err != nil {
			return Result{}, err
		}
		if !exists {
			return Result{}, Permanent(ReasonBadOrderState, "CAS instance %s recorded for this request carries no DV order", st.InstanceID)
		}
	}
	return s.interpret(ctx, req, csr, st, r, store)
}

func (s *dvOrderSigner) interpret(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, r *aliyun.DVOrderResult, store StateStore) (Result, error) {
	switch strings.ToLower(r.OrderStatus) {
	case aliyun.DVStatusChecking:
		v := dvValidation(r, csr)
		if s.dns != nil && v.Method == "DNS" {
			return s.dns.presentDNS(ctx, v, st, store, "the DV order on CAS instance "+st.InstanceID, s.pollAfter(st))
		}
		return Result{Pending: &Pending{
			Reason:     ReasonDomainVerify,
			Message:    fmt.Sprintf("%s (the DV order on CAS instance %s waits for domain validation)", v.Instruction(), st.InstanceID),
			RetryAfter: s.pollAfter(st),
			Validation: v,
		}}, nil
	case aliyun.DVStatusIssued:
		res, err := s.issued(ctx, req, csr, st, r)
		if err == nil && s.dns != nil && len(st.ValidationRecords) > 0 {
			res.Notes = append(res.Notes, s.dns.removeRecords(ctx, st, store)...)
		}
		return res, err
	case aliyun.DVStatusCheckedFail, aliyun.DVStatusCheckFail:
		return Result{}, Permanent(ReasonVerifyFailed, "the CA could not validate %s for the DV order on CAS instance %s (status %s)", strings.Join(csr.Names, ", "), st.InstanceID, r.OrderStatus)
	default:
		return Result{}, Transient(ReasonUnknownOrderState, s.pollAfter(st),
			fmt.Errorf("CAS reports the DV order on instance %s in state %q; looking again later", st.InstanceID, r.OrderStatus))
	}
}

// pollAfter is the CSR flow's schedule: PollInterval doubling up to
// MaxPollInterval with the time since the order was placed.
func (s *dvOrderSigner) pollAfter(st OrderState) time.Duration {
	return (&csrSigner{cfg: s.cfg, now: s.now}).pollAfter(st)
}

func dvValidation(r *aliyun.DVOrderResult, csr *CheckedCSR) *Validation {
	method := strings.ToUpper(r.CheckType)
	if method == "" {
		method = "DNS"
	}
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(r.CheckName), "."))
	v := &Validation{Domain: csr.MainDomain, Method: method}
	if method == "FILE" {
		url := name
		if !strings.Contains(url, "://") {
			url = "http://" + url
		}
		v.FileURL = url
		v.FileContent = r.CheckValue
		return v
	}
	// CheckName is the full record name; be lenient with a bare host.
	v.RecordName = recordName(name, strings.TrimPrefix(csr.MainDomain, "*."))
	v.RecordType = "TXT"
	v.RecordValue = r.CheckValue
	return v
}

// issued returns the chain when it is for the request's key, else hands
// the server-generated key over for adoption.
func (s *dvOrderSigner) issued(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, r *aliyun.DVOrderResult) (Result, error) {
	certPEM, keyPEM := r.Certificate, r.PrivateKey
	if strings.TrimSpace(certPEM) == "" || strings.TrimSpace(keyPEM) == "" {
		c, k, err := s.recoverIssued(ctx, csr)
		if err != nil {
			return Result{}, err
		}
		if strings.TrimSpace(certPEM) == "" {
			certPEM = c
		}
		if strings.TrimSpace(keyPEM) == "" {
			keyPEM = k
		}
	}
	chain, err := ParseChain([]byte(certPEM))
	if err != nil {
		return Result{}, Permanent(ReasonBadChain, "the DV order on CAS instance %s is issued but its certificate is unusable: %v", st.InstanceID, err)
	}
	leaf := chain.Leaf
	if samePublicKey(leaf.PublicKey, csr.CSR.PublicKey) {
		res := Result{Chain: chain.ChainPEM(), Leaf: leaf}
		res.Notes = append(res.Notes, fmt.Sprintf("the DV order on CAS instance %s issued a certificate valid until %s", st.InstanceID, leaf.NotAfter.UTC().Format(time.RFC3339)))
		if root, err := s.roots.root(ctx, chain); err == nil {
			res.CA = encodePEM(root)
		} else {
			res.Notes = append(res.Notes, fmt.Sprintf("the root CA of the certificate on CAS instance %s is unknown, so ca.crt stays empty: %v", st.InstanceID, err))
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
	if req.AdoptedInstanceID != "" && req.AdoptedInstanceID == st.InstanceID {
		// Built from the key adopted for this instance, yet the certificate
		// is for another key: adopting again cannot help.
		return Result{}, Permanent(ReasonAdoptedKeyMismatch,
			"the next private key Secret %s records CAS instance %s, but its key is not the key of that instance's certificate; no new order is placed", req.NextPrivateKeySecret, st.InstanceID)
	}
	key, err := parseServerKey(keyPEM)
	if err != nil {
		return Result{}, Permanent(ReasonBadChain, "the DV order on CAS instance %s is issued but its private key is unusable: %v", st.InstanceID, err)
	}
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return Result{}, Permanent(ReasonKeyMismatch, "the private key CAS returned for instance %s is not the key of its certificate", st.InstanceID)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Result{}, Permanent(ReasonBadChain, "encoding the private key of CAS instance %s: %v", st.InstanceID, err)
	}
	return Result{
		Leaf:            leaf,
		AdoptKeyPEM:     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}),
		AdoptInstanceID: st.InstanceID,
		Notes:           []string{fmt.Sprintf("the DV order on CAS instance %s issued a certificate valid until %s for a key generated by Alibaba Cloud", st.InstanceID, leaf.NotAfter.UTC().Format(time.RFC3339))},
	}, nil
}

// parseServerKey reads a PKCS#1, PKCS#8 or EC private key.
func parseServerKey(keyPEM string) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(strings.ReplaceAll(keyPEM, "\r\n", "\n")))
	if b == nil {
		return nil, errors.New("no PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if sg, ok := k.(crypto.Signer); ok {
			return sg, nil
		}
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("unparsable %s block", b.Type)
}

// recoverIssued finds the certificate (and key) of an issued order among
// the account's stored certificates when DescribeDVOrderResult leaves them
// out: the newest one for exactly the request's names.
func (s *dvOrderSigner) recoverIssued(ctx context.Context, csr *CheckedCSR) (string, string, error) {
	want := nameSet(csr.Names)
	var best *aliyun.UserCertificate
	for page := 1; page <= maxListPages; page++ {
		l, err := s.client.DescribeUserCertificateList(ctx, page, listPageSize)
		if err != nil {
			return "", "", withContext(err, "looking for the issued certificate of %s among the stored certificates", csr.MainDomain)
		}
		for i := range l.CertificateList {
			c := l.CertificateList[i]
			names := []string{c.Common}
			for n := range strings.SplitSeq(c.Sans, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
			if bool(c.Expired) || !sameNames(names, want) {
				continue
			}
			if best == nil || c.StartDate > best.StartDate {
				best = &c
			}
		}
		if len(l.CertificateList) == 0 || page*listPageSize >= int(l.TotalCount) {
			break
		}
	}
	if best == nil {
		return "", "", Transient(ReasonUnknownOrderState, s.cfg.PollInterval,
			fmt.Errorf("the DV order for %s is issued but CAS returned no certificate and none is stored yet; looking again later", csr.MainDomain))
	}
	d, err := s.client.DescribeUserCertificateDetail(ctx, string(best.ID))
	if err != nil {
		return "", "", withContext(err, "reading stored certificate %s", best.ID)
	}
	return d.Cert, d.Key, nil
}

// usableInstances lists the purchased DV instances without an order, in
// the order CAS lists them (or as configured), walking every page.
func (s *dvOrderSigner) usableInstances(ctx context.Context) ([]string, error) {
	all, err := s.listInstances(ctx)
	if err != nil {
		return nil, withContext(err, "listing the purchased certificate instances")
	}
	usable := map[string]bool{}
	var ids []string
	for _, o := range all {
		if usableInstance(o) {
			usable[o.InstanceID] = true
			ids = append(ids, o.InstanceID)
		}
	}
	if len(s.cfg.DVOrder.InstanceIDs) == 0 {
		return ids, nil
	}
	var out []string
	for _, id := range s.cfg.DVOrder.InstanceIDs {
		if usable[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func usableInstance(o aliyun.OrderInstance) bool {
	if o.InstanceID == "" {
		return false
	}
	if o.CertType != "" && !strings.EqualFold(o.CertType, "DV") && !strings.EqualFold(o.CertType, "FREE") {
		return false
	}
	return strings.EqualFold(o.Status, "PAYED") || strings.EqualFold(o.Status, "Paid")
}

// listInstances walks DescribeOrderInstanceList page by page (StartIndex
// 1, 2, ...) until TotalCount instances are seen, a page is empty, or a
// page brings nothing new.
func (s *dvOrderSigner) listInstances(ctx context.Context) ([]aliyun.OrderInstance, error) {
	seen := map[string]bool{}
	var all []aliyun.OrderInstance
	for page := 1; page <= maxInstancePages; page++ {
		l, err := s.client.DescribeOrderInstanceList(ctx, page)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, o := range l.OrderList {
			if o.InstanceID == "" || seen[o.InstanceID] {
				continue
			}
			seen[o.InstanceID] = true
			all = append(all, o)
			fresh++
		}
		if fresh == 0 || len(all) >= int(l.TotalCount) {
			break
		}
	}
	return all, nil
}

// Cancel removes the request's DNS validation records; there is no order to
// give back: CAS 2018-07-13 cannot cancel a DV order and an instance, once
// ordered on, stays used. A reservation on which no order was placed is
// simply forgotten.
func (s *dvOrderSigner) Cancel(ctx context.Context, st OrderState) error {
	if s.dns != nil && len(st.ValidationRecords) > 0 {
		if _, _, err := s.dns.cleanUp(ctx, st); err != nil {
			return err
		}
	}
	if st.InstanceID == "" || st.OrderedAt != nil {
		return nil
	}
	if _, exists, err := s.describe(ctx, st.InstanceID); err == nil && !exists {
		s.mu.Lock()
		delete(s.reserved, st.InstanceID)
		s.mu.Unlock()
	}
	return nil
}

// Check counts the purchased DV instances not used yet (every page), of
// spec.dvOrder.instanceIDs when set.
func (s *dvOrderSigner) Check(ctx context.Context) (Health, error) {
	ids, err := s.usableInstances(ctx)
	if err != nil {
		return Health{UsableInstances: -1}, checkError(err, "listing the purchased certificate instances")
	}
	return Health{UsableInstances: len(ids)}, nil
}
