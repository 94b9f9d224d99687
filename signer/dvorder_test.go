package signer

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"strings"
	"sync"
	"testing"
	"time"
)

// The DV flow (CAS 2018-07-13) against recorded, Alibaba-shaped answers.

func newTestDVSigner(t *testing.T, endpoint string, mod func(*Config)) (*dvOrderSigner, *clock) {
	t.Helper()
	cfg := testConfig(endpoint)
	cfg.OrderAPI = OrderAPIDVOrder
	cfg.Contact.Province, cfg.Contact.City = "Zhejiang", "Hangzhou"
	cfg.DVOrder.AdoptServerKey = true
	if mod != nil {
		mod(&cfg)
	}
	sg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := sg.(*dvOrderSigner)
	c := &clock{t: t0}
	s.now = c.now
	return s, c
}

var (
	dvKeyOnce sync.Once
	dvKeys    [2]*rsa.PrivateKey
)

// twoRSAKeys returns two distinct RSA 2048 keys: the CSR's and the server's.
func twoRSAKeys(t *testing.T) (*rsa.PrivateKey, *rsa.PrivateKey) {
	dvKeyOnce.Do(func() {
		for i := range dvKeys {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			dvKeys[i] = k
		}
	})
	return dvKeys[0], dvKeys[1]
}

func instanceList(total int, items ...[2]string) reply {
	var list []any
	for i, it := range items {
		list = append(list, map[string]any{"Id": i + 1, "InstanceId": it[0], "CertType": "DV", "Source": "BUY", "Status": it[1]})
	}
	return ok(jsonBody(map[string]any{"TotalCount": total, "OrderList": list}))
}

func dvRequest(t *testing.T, csr []byte) Request {
	return Request{Name: "ns/cr", CSRPEM: csr, NextPrivateKeySecret: "web-next-key"}
}

var checking = ok(jsonBody(map[string]any{"OrderStatus": "checking", "CheckType": "DNS", "CheckName": "_dnsauth.www.example.com", "CheckValue": "20260301abcdef"}))

func TestDVPagesReservesThenCreates(t *testing.T) {
	key, _ := twoRSAKeys(t)
	r := newReplay(t, map[string][]reply{
		"DescribeOrderInstanceList": {
			instanceList(3, [2]string{"cas-cn-aaa", "ISSUED"}, [2]string{"cas-cn-bbb", "CHECKING"}),
			instanceList(3, [2]string{"cas-cn-ccc", "PAYED"}),
		},
		"CreateDVOrderAudit":    {ok(jsonBody(map[string]any{}))},
		"DescribeDVOrderResult": {checking},
	})
	s, _ := newTestDVSigner(t, r.URL, nil)
	store := &recStore{}
	r.before = func(action string) {
		if action == "CreateDVOrderAudit" {
			if st := store.last(); st.InstanceID != "cas-cn-ccc" || st.Creating == nil || st.OrderedAt != nil {
				t.Errorf("create called with persisted state %+v", st)
			}
		}
	}
	res, err := s.Sign(context.Background(), dvRequest(t, simpleCSR(t, key, "www.example.com", "www.example.com")), store)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.actions(), ","); got != "DescribeOrderInstanceList,DescribeOrderInstanceList,CreateDVOrderAudit,DescribeDVOrderResult" {
		t.Fatalf("calls %s", got)
	}
	if pages := r.params("DescribeOrderInstanceList"); pages[0].Get("StartIndex") != "1" || pages[1].Get("StartIndex") != "2" {
		t.Errorf("pages %v", pages)
	}
	p := r.params("CreateDVOrderAudit")[0]
	if p.Get("InstanceId") != "cas-cn-ccc" || p.Get("Domain") != "www.example.com" || p.Get("DomainVerifyType") != "DNS" ||
		p.Get("Username") != "Ops" || p.Get("Email") != "ops@example.com" || p.Get("Mobile") != "13800000000" ||
		p.Get("Province") != "Zhejiang" || p.Get("City") != "Hangzhou" {
		t.Errorf("create params %v", p)
	}
	if len(store.saved) != 1 || len(store.learned) != 1 || store.learned[0].OrderedAt == nil || store.learned[0].Creating != nil || store.learned[0].InstanceID != "cas-cn-ccc" {
		t.Fatalf("saved %+v, learned %+v", store.saved, store.learned)
	}
	pd := res.Pending
	if pd == nil || pd.Reason != ReasonDomainVerify {
		t.Fatalf("result %+v", res)
	}
	if want := "create DNS TXT record _dnsauth.www.example.com = 20260301abcdef"; !strings.HasPrefix(pd.Message, want) || !strings.Contains(pd.Message, "cas-cn-ccc") {
		t.Errorf("message %q", pd.Message)
	}
	if v := pd.Validation; v == nil || v.RecordName != "_dnsauth.www.example.com" || v.RecordValue != "20260301abcdef" {
		t.Errorf("validation %+v", v)
	}
	if pd.RetryAfter != DefaultPollInterval {
		t.Errorf("RetryAfter %v", pd.RetryAfter)
	}
}

func TestDVFileValidation(t *testing.T) {
	r := newReplay(t, map[string][]reply{"DescribeDVOrderResult": {ok(jsonBody(map[string]any{
		"OrderStatus": "checking", "CheckType": "FILE", "CheckName": "www.example.com/.well-known/pki-validation/fileauth.txt", "CheckValue": "xyz"}))}})
	s, _ := newTestDVSigner(t, r.URL, nil)
	key, _ := twoRSAKeys(t)
	req := dvRequest(t, simpleCSR(t, key, "www.example.com"))
	req.State = OrderState{InstanceID: "cas-cn-1", OrderedAt: &t0}
	res, err := s.Sign(context.Background(), req, &recStore{})
	if err != nil || res.Pending == nil {
		t.Fatalf("%+v %v", res, err)
	}
	if want := "serve http://www.example.com/.well-known/pki-validation/fileauth.txt with content xyz"; !strings.HasPrefix(res.Pending.Message, want) {
		t.Errorf("message %q", res.Pending.Message)
	}
}

func TestDVRefusesLocallyBeforeOrdering(t *testing.T) {
	r := newReplay(t, nil)
	rsaOK, _ := twoRSAKeys(t)
	for name, tc := range map[string]struct {
		mod    func(*Config)
		req    Request
		reason string
	}{
		"adoption off": {func(c *Config) { c.DVOrder.AdoptServerKey = false }, dvRequest(t, simpleCSR(t, rsaOK, "www.example.com")), ReasonKeyAdoptionOff},
		"ECDSA":        {nil, dvRequest(t, simpleCSR(t, ecKey(t, elliptic.P256()), "www.example.com")), ReasonDVKeyUnsupported},
		"RSA 4096":     {nil, dvRequest(t, simpleCSR(t, rsaKey(t, 4096), "www.example.com")), ReasonDVKeyUnsupported},
		"no next key":  {nil, Request{Name: "ns/cr", CSRPEM: simpleCSR(t, rsaOK, "www.example.com")}, ReasonNoNextKeySecret},
		"isCA":         {nil, Request{Name: "ns/cr", CSRPEM: simpleCSR(t, rsaOK, "www.example.com"), IsCA: true, NextPrivateKeySecret: "k"}, ReasonCANotSupported},
	} {
		s, _ := newTestDVSigner(t, r.URL, tc.mod)
		_, err := s.Sign(context.Background(), tc.req, &recStore{})
		if p, ok := AsPermanent(err); !ok || p.Reason != tc.reason {
			t.Errorf("%s: got %v", name, err)
		}
	}
	if n := len(r.actions()); n != 0 {
		t.Fatalf("%d remote calls for refused requests: %v", n, r.actions())
	}
}

func TestDVRestartBetweenReserveAndCreate(t *testing.T) {
	key, _ := twoRSAKeys(t)
	r := newReplay(t, map[string][]reply{
		// What CAS answers for an instance without an order is not
		// published; the instance list's PAYED says there is none.
		"DescribeDVOrderResult":     {apiErr(403, "OrderStateError", "The certificate instance cas-cn-1 has no order yet."), checking},
		"DescribeOrderInstanceList": {instanceList(1, [2]string{"cas-cn-1", "PAYED"})},
		"CreateDVOrderAudit":        {ok(jsonBody(map[string]any{}))},
	})
	s, c := newTestDVSigner(t, r.URL, nil)
	store := &recStore{}
	req := dvRequest(t, simpleCSR(t, key, "www.example.com"))
	before := t0.Add(-time.Minute)
	req.State = OrderState{InstanceID: "cas-cn-1", Creating: &before}
	c.add(time.Minute)
	res, err := s.Sign(context.Background(), req, store)
	if err != nil || res.Pending == nil {
		t.Fatalf("%+v %v", res, err)
	}
	if got := strings.Join(r.actions(), ","); got != "DescribeDVOrderResult,DescribeOrderInstanceList,CreateDVOrderAudit,DescribeDVOrderResult" {
		t.Fatalf("calls %s", got)
	}
	if r.params("CreateDVOrderAudit")[0].Get("InstanceId") != "cas-cn-1" {
		t.Fatal("created on another instance")
	}
	if st := store.last(); st.InstanceID != "cas-cn-1" || st.OrderedAt == nil || st.Creating != nil {
		t.Fatalf("state %+v", st)
	}
}

func TestDVRestartBetweenCreateAndPersist(t *testing.T) {
	key, _ := twoRSAKeys(t)
	r := newReplay(t, map[string][]reply{"DescribeDVOrderResult": {checking}})
	s, _ := newTestDVSigner(t, r.URL, nil)
	store := &recStore{}
	req := dvRequest(t, simpleCSR(t, key, "www.example.com"))
	creating := t0.Add(-time.Minute)
	req.State = OrderState{InstanceID: "cas-cn-1", Creating: &creating}
	res, err := s.Sign(context.Background(), req, store)
	if err != nil || res.Pending == nil || res.Pending.Reason != ReasonDomainVerify {
		t.Fatalf("%+v %v", res, err)
	}
	if r.count("CreateDVOrderAudit") != 0 || r.count("DescribeDVOrderResult") != 1 {
		t.Fatalf("calls %v", r.actions())
	}
	if st := store.last(); st.OrderedAt == nil || !st.OrderedAt.Equal(creating) || st.Creating != nil {
		t.Fatalf("state %+v", st)
	}
}

func TestDVLostCreateAnswerKeepsIntent(t *testing.T) {
	key, _ := twoRSAKeys(t)
	r := newReplay(t, map[string][]reply{
		"DescribeOrderInstanceList": {instanceList(1, [2]string{"cas-cn-1", "PAYED"})},
		"CreateDVOrderAudit":        {apiErr(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server.")},
	})
	s, _ := newTestDVSigner(t, r.URL, nil)
	store := &recStore{}
	_, err := s.Sign(context.Background(), dvRequest(t, simpleCSR(t, key, "www.example.com")), store)
	if _, ok := AsTransient(err); !ok {
		t.Fatalf("got %v", err)
	}
	if st := store.last(); st.InstanceID != "cas-cn-1" || st.Creating == nil {
		t.Fatalf("the reservation was dropped after an answer that may have been lost: %+v", st)
	}
}

func TestDVNoUsableInstanceWaits(t *testing.T) {
	key, _ := twoRSAKeys(t)
	r := newReplay(t, map[string][]reply{
		"DescribeOrderInstanceList": {instanceList(2, [2]string{"cas-cn-1", "PAYED"}, [2]string{"cas-cn-2", "ISSUED"})},
		"CreateDVOrderAudit":        {ok(jsonBody(map[string]any{}))},
		"DescribeDVOrderResult":     {checking},
	})
	s, _ := newTestDVSigner(t, r.URL, nil)
	taken := func(_ context.Context, id string) (bool, error) { return id == "cas-cn-1", nil }
	req := dvRequest(t, simpleCSR(t, key, "www.example.com"))
	req.InstanceTaken = taken
	res, err := s.Sign(context.Background(), req, &recStore{})
	if err != nil || res.Pending == nil || res.Pending.Reason != ReasonNoUsableInstance || !strings.Contains(res.Pending.Message, "no usable DV instance") {
		t.Fatalf("%+v %v", res.Pending, err)
	}
	// In process: the first request reserves the instance, the second waits.
	a, b := dvRequest(t, req.CSRPEM), dvRequest(t, req.CSRPEM)
	a.Name, b.Name = "ns/a", "ns/b"
	if res, err := s.Sign(context.Background(), a, &recStore{}); err != nil || res.Pending == nil || res.Pending.Reason != ReasonDomainVerify {
		t.Fatalf("a: %+v %v", res.Pending, err)
	}
	if res, err := s.Sign(context.Background(), b, &recStore{}); err != nil || res.Pending == nil || res.Pending.Reason != ReasonNoUsableInstance {
		t.Fatalf("b: %+v %v", res.Pending, err)
	}
	if n := r.count("CreateDVOrderAudit"); n != 1 {
		t.Fatalf("%d creates", n)
	}
}

func TestDVConfiguredInstances(t *testing.T) {
	key, _ := twoRSAKeys(t)
	r := newReplay(t, map[string][]reply{
		"DescribeOrderInstanceList": {instanceList(3, [2]string{"cas-cn-1", "PAYED"}, [2]string{"cas-cn-2", "PAYED"}, [2]string{"cas-cn-3", "Paid"})},
		"CreateDVOrderAudit":        {ok(jsonBody(map[string]any{}))},
		"DescribeDVOrderResult":     {checking},
	})
	s, _ := newTestDVSigner(t, r.URL, func(c *Config) { c.DVOrder.InstanceIDs = []string{"cas-cn-9", "cas-cn-3"} })
	if _, err := s.Sign(context.Background(), dvRequest(t, simpleCSR(t, key, "www.example.com")), &recStore{}); err != nil {
		t.Fatal(err)
	}
	if got := r.params("CreateDVOrderAudit")[0].Get("InstanceId"); got != "cas-cn-3" {
		t.Fatalf("ordered on %s", got)
	}
	h, err := s.Check(context.Background())
	if err != nil || h.UsableInstances == nil || *h.UsableInstances != 1 || h.Quota != nil {
		t.Fatalf("health %+v %v", h, err)
	}
}

func TestDVCheckedFail(t *testing.T) {
	key, _ := twoRSAKeys(t)
	for _, status := range []string{"checked_fail", "check_fail"} {
		r := newReplay(t, map[string][]reply{"DescribeDVOrderResult": {ok(jsonBody(map[string]any{"OrderStatus": status}))}})
		s, _ := newTestDVSigner(t, r.URL, nil)
		req := dvRequest(t, simpleCSR(t, key, "shop.example.com"))
		req.State = OrderState{InstanceID: "cas-cn-1", OrderedAt: &t0}
		_, err := s.Sign(context.Background(), req, &recStore{})
		p, ok := AsPermanent(err)
		if !ok || p.Reason != ReasonVerifyFailed || !strings.Contains(err.Error(), "shop.example.com") || !strings.Contains(err.Error(), "cas-cn-1") {
			t.Fatalf("%s: got %v", status, err)
		}
	}
}

func serverKeyPEM(k *rsa.PrivateKey) string {
	return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
}

func TestDVIssuedAdoptsThenAnswersFromTheInstance(t *testing.T) {
	csrKey, serverKey := twoRSAKeys(t)
	ca := newTestCA(t)
	leaf := ca.issue(t, serverKey.Public(), 90*24*time.Hour, "www.example.com")
	chainCRLF := strings.ReplaceAll(pemOf(ca.inter, leaf), "\n", "\r\n")
	issued := ok(jsonBody(map[string]any{"OrderStatus": "issued", "Certificate": chainCRLF, "PrivateKey": serverKeyPEM(serverKey)}))
	r := newReplay(t, map[string][]reply{"DescribeDVOrderResult": {issued}})
	s, _ := newTestDVSigner(t, r.URL, nil)

	req := dvRequest(t, simpleCSR(t, csrKey, "www.example.com"))
	req.State = OrderState{InstanceID: "cas-cn-1", OrderedAt: &t0}
	res, err := s.Sign(context.Background(), req, &recStore{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != OutcomeAdoptKey || res.Certificate == nil || res.Certificate.Chain != nil || res.AdoptKey.InstanceID != "cas-cn-1" {
		t.Fatalf("result %+v", res)
	}
	k, err := parseServerKey(string(res.AdoptKey.KeyPEM))
	if err != nil || !samePublicKey(k.Public(), serverKey.Public()) {
		t.Fatalf("adopted key %v", err)
	}
	for _, n := range res.Notes {
		if strings.Contains(n, "PRIVATE KEY") {
			t.Fatal("a note holds the key")
		}
	}

	// cert-manager's replacement request, built from the adopted key.
	store := &recStore{}
	repl := dvRequest(t, simpleCSR(t, serverKey, "www.example.com"))
	repl.AdoptedInstanceID = "cas-cn-1"
	res, err = s.Sign(context.Background(), repl, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Certificate.Leaf == nil || !res.Certificate.Leaf.Equal(leaf) || res.Kind == OutcomeAdoptKey || string(res.Certificate.Chain) != pemOf(leaf, ca.inter) {
		t.Fatalf("result %+v", res)
	}
	if st := store.last(); st.InstanceID != "cas-cn-1" {
		t.Fatalf("state %+v", st)
	}
	if r.count("CreateDVOrderAudit") != 0 || r.count("DescribeOrderInstanceList") != 0 {
		t.Fatalf("calls %v", r.actions())
	}

	// A key changed behind the issuer's back is not adopted again.
	other := dvRequest(t, simpleCSR(t, csrKey, "www.example.com"))
	other.AdoptedInstanceID = "cas-cn-1"
	if _, err := s.Sign(context.Background(), other, &recStore{}); err == nil {
		t.Fatal("accepted")
	} else if p, ok := AsPermanent(err); !ok || p.Reason != ReasonAdoptedKeyMismatch {
		t.Fatalf("got %v", err)
	}
}

func TestDVIssuedRecoversChainFromStoredCertificates(t *testing.T) {
	csrKey, serverKey := twoRSAKeys(t)
	ca := newTestCA(t)
	leaf := ca.issue(t, serverKey.Public(), 90*24*time.Hour, "www.example.com")
	r := newReplay(t, map[string][]reply{
		"DescribeDVOrderResult": {ok(jsonBody(map[string]any{"OrderStatus": "issued"}))},
		"DescribeUserCertificateList": {ok(jsonBody(map[string]any{"TotalCount": 2, "CurrentPage": 1, "ShowSize": 50, "CertificateList": []any{
			map[string]any{"id": 7, "name": "other", "common": "api.example.com", "sans": "api.example.com", "startDate": "2026-02-01"},
			map[string]any{"id": 8, "name": "cas-cn-1", "common": "www.example.com", "sans": "www.example.com", "startDate": "2026-03-01"},
		}}))},
		"DescribeUserCertificateDetail": {ok(jsonBody(map[string]any{"Id": 8, "Cert": pemOf(leaf, ca.inter), "Key": serverKeyPEM(serverKey)}))},
	})
	s, _ := newTestDVSigner(t, r.URL, nil)
	req := dvRequest(t, simpleCSR(t, csrKey, "www.example.com"))
	req.State = OrderState{InstanceID: "cas-cn-1", OrderedAt: &t0}
	res, err := s.Sign(context.Background(), req, &recStore{})
	if err != nil || res.Kind != OutcomeAdoptKey || !res.Certificate.Leaf.Equal(leaf) {
		t.Fatalf("%+v %v", res, err)
	}
	if got := r.params("DescribeUserCertificateDetail")[0].Get("CertId"); got != "8" {
		t.Fatalf("detail of %s", got)
	}
}
