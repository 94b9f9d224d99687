package signer_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"fmt"
	"net"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The CSR flow against the Alibaba Cloud simulator: real signatures, real
// quota, real order state machines, real CA chain.

const (
	simKeyID  = "test-simulator-key-01"
	simSecret = "simulator-secret-0123456789"
)

func startSim(t *testing.T, cfg aliyunsim.Config) (*aliyunsim.Simulator, string) {
	t.Helper()
	if cfg.AccessKeys == nil {
		cfg.AccessKeys = map[string]string{simKeyID: simSecret}
	}
	sim, err := aliyunsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim, url
}

func simConfig(url string) signer.Config {
	return signer.Config{
		Endpoint:     url,
		Credentials:  signer.Credentials{AccessKeyID: simKeyID, AccessKeySecret: simSecret},
		OrderAPI:     signer.OrderAPICSR, // the package flow; the default is Instance
		ProductCode:  "digicert-free-1-free",
		Contact:      signer.Contact{Username: "Ops Team", Email: "ops@example.com", Phone: "13800000000"},
		PollInterval: 50 * time.Millisecond,
		RateLimit:    100,
		Burst:        20,
		Timeout:      2 * time.Second,
		SettleTime:   2 * time.Second, // the simulator lists an order at once
		// The simulator serves plain http on loopback.
		Endpoints: signer.EndpointPolicy{AllowInsecure: true},
	}
}

// memStore is the controller's part: it keeps the state the signer saves.
type memStore struct {
	mu    sync.Mutex
	state signer.OrderState
	saves int
}

func (m *memStore) Save(_ context.Context, st signer.OrderState) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = st
	m.saves++
	return nil
}

// Learn keeps st as the controller does with its next write of the
// request, which these tests make at once.
func (m *memStore) Learn(st signer.OrderState) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.state = st
}

func (m *memStore) get() signer.OrderState {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state
}

var (
	keyOnce sync.Once
	rsa2048 *rsa.PrivateKey
)

func rsaKey(t *testing.T) *rsa.PrivateKey {
	keyOnce.Do(func() {
		var err error
		if rsa2048, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
			panic(err)
		}
	})
	return rsa2048
}

func csrFor(t *testing.T, key crypto.Signer, cn string, dns ...string) []byte {
	t.Helper()
	return testcsr.PEM(t, testcsr.Spec{Key: key, CommonName: cn, DNSNames: dns})
}

// drive calls Sign as the controller would until the request is issued or
// fails, honouring (a shortened) RetryAfter. Transient errors never fail it.
func drive(t *testing.T, sg signer.Signer, req signer.Request, store *memStore, deadline time.Duration) (signer.Outcome, error) {
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for {
		req.State = store.get()
		res, err := sg.Sign(ctx, req, store)
		if err == nil && res.Pending == nil {
			return res, nil
		}
		if err != nil {
			if _, ok := signer.AsPermanent(err); ok {
				return res, err
			}
			if _, ok := signer.AsIssuer(err); ok {
				return res, err
			}
		}
		wait := 20 * time.Millisecond
		if te, ok := signer.AsTransient(err); ok && te.RetryAfter > 0 {
			wait = min(te.RetryAfter, 500*time.Millisecond)
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("not issued in %v (last: %+v, %v)", deadline, res.Pending, err)
		case <-time.After(wait):
		}
	}
}

// verifyIssued checks the chain against the simulator's root and the CSR's key.
func verifyIssued(t *testing.T, sim *aliyunsim.Simulator, res signer.Outcome, key crypto.Signer, names ...string) {
	t.Helper()
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sim.RootPEM()) {
		t.Fatal("bad root")
	}
	// CAS does not send the root; the signer found it by the chain's AIA.
	if !bytes.Equal(res.Certificate.CA, sim.RootPEM()) {
		t.Fatalf("Result.CA is not the simulator's root:\n%s", res.Certificate.CA)
	}
	ch, err := signer.ParseChain(res.Certificate.Chain)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(res.Certificate.Chain), "\r") || ch.Root != nil {
		t.Fatalf("chain not normalised or holds the root:\n%s", res.Certificate.Chain)
	}
	inters := x509.NewCertPool()
	for _, c := range ch.Intermediates {
		inters.AddCert(c)
	}
	if _, err := res.Certificate.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inters, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		t.Fatalf("chain does not verify against the simulator's root: %v", err)
	}
	if !res.Certificate.Leaf.Equal(ch.Leaf) {
		t.Fatal("Leaf is not the chain's first certificate")
	}
	type eq interface{ Equal(crypto.PublicKey) bool }
	if !res.Certificate.Leaf.PublicKey.(eq).Equal(key.Public()) {
		t.Fatal("the leaf's key is not the CSR's")
	}
	for _, n := range names {
		if err := res.Certificate.Leaf.VerifyHostname(strings.Replace(n, "*", "x", 1)); err != nil {
			t.Errorf("leaf does not cover %s: %v", n, err)
		}
	}
	if res.Kind != signer.OutcomeIssued || !strings.Contains(res.Certificate.Summary(), " issued a certificate valid until "+res.Certificate.Leaf.NotAfter.UTC().Format(time.RFC3339)) {
		t.Errorf("outcome %s, summary %q", res.Kind, res.Certificate.Summary())
	}
}

func orders2020(st aliyunsim.State) []aliyunsim.OrderState {
	var out []aliyunsim.OrderState
	for _, o := range st.Orders {
		if o.API == aliyunsim.VersionCAS2020 {
			out = append(out, o)
		}
	}
	return out
}

func TestSimHappyPath(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(t *testing.T) crypto.Signer
	}{
		{"RSA", func(t *testing.T) crypto.Signer { return rsaKey(t) }},
		{"ECDSA P-256", func(t *testing.T) crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader); return k }},
		{"ECDSA P-384", func(t *testing.T) crypto.Signer { k, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader); return k }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}}, Validation: "auto", CertCRLF: true})
			sg, err := signer.New(simConfig(url))
			if err != nil {
				t.Fatal(err)
			}
			h, err := sg.Check(context.Background())
			if err != nil || h.Quota == nil || h.Quota.Total != 5 || h.Quota.Used != 0 {
				t.Fatalf("Check: %+v, %v", h, err)
			}
			key := tc.key(t)
			store := &memStore{}
			res, err := drive(t, sg, signer.Request{Name: "default/www", CSRPEM: csrFor(t, key, "www.example.com"), Duration: 2160 * time.Hour}, store, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			verifyIssued(t, sim, res, key, "www.example.com")
			st := sim.State()
			if os := orders2020(st); len(os) != 1 || os[0].ID != store.get().OrderID || !os[0].CSR {
				t.Fatalf("orders %+v, state %+v", os, store.get())
			}
			if st.Calls["CreateCertificateWithCsrRequest"] != 1 {
				t.Fatalf("calls %v", st.Calls)
			}
			if h, err := sg.Check(context.Background()); err != nil || h.Quota.Used != 1 || h.Quota.Issued != 1 {
				t.Fatalf("Check after: %+v, %v", h, err)
			}
		})
	}
}

func TestSimMultiSAN(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"globalsign-dv-w-advanced": {Quota: 2, MaxNames: 5}}, Validation: "auto"})
	cfg := simConfig(url)
	cfg.ProductCode = "globalsign-dv-w-advanced"
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	names := []string{"shop.example.com", "api.example.com", "*.cdn.example.com"}
	res, err := drive(t, sg, signer.Request{CSRPEM: csrFor(t, key, names[0], names...)}, &memStore{}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, res, key, names...)
	if got := res.Certificate.Leaf.DNSNames; !sameSet(got, names) {
		t.Fatalf("leaf names %v", got)
	}
}

func sameSet(a, b []string) bool {
	a, b = slices.Clone(a), slices.Clone(b)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}

// The domain owner's part: the record the signer asks for is exactly the
// one the CA checks.
func TestSimDNSValidationAndCancel(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}}, Validation: "dns", Zones: []string{"example.com"}})
	sg, err := signer.New(simConfig(url))
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.example.com")}
	res, err := sg.Sign(context.Background(), req, store)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pending
	if p == nil || p.Reason != "DomainVerify" || p.Validation == nil {
		t.Fatalf("got %+v", res)
	}
	os := orders2020(sim.State())
	if len(os) != 1 {
		t.Fatalf("orders %+v", os)
	}
	want := "create DNS TXT record _dnsauth.www.example.com = " + os[0].Token
	if !strings.HasPrefix(p.Message, want) || p.Validation.RecordName != "_dnsauth.www.example.com" {
		t.Fatalf("message %q, want %q", p.Message, want)
	}
	// Denied before issuance: the order is cancelled and the quota returns.
	if _, err := sg.Cancel(context.Background(), store.get()); err != nil {
		t.Fatal(err)
	}
	st := sim.State()
	if len(orders2020(st)) != 0 || st.Packages["digicert-free-1-free"].Used != 0 {
		t.Fatalf("after cancel: orders %+v packages %+v", st.Orders, st.Packages)
	}
	if _, err := sg.Cancel(context.Background(), store.get()); err != nil {
		t.Fatalf("second cancel: %v", err)
	}
}

// Faults, half of which lose the answer after the order was placed: every
// request still ends with exactly one order.
func TestSimFaultsNeverOrderTwice(t *testing.T) {
	const n = 10
	sim, url := startSim(t, aliyunsim.Config{
		Packages:   map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 3 * n}},
		Validation: "auto",
		FaultHang:  1500 * time.Millisecond,
	})
	cfg := simConfig(url)
	cfg.Timeout = time.Second
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	sim.SetFaultRate(0.3)
	key := rsaKey(t)
	stores := make([]*memStore, n)
	csrs := make([][]byte, n)
	for i := range n {
		stores[i] = &memStore{}
		csrs[i] = csrFor(t, key, fmt.Sprintf("app%d.example.com", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("app%d.example.com", i)
			res, err := drive(t, sg, signer.Request{CSRPEM: csrs[i]}, stores[i], 90*time.Second)
			if err == nil && res.Certificate.Leaf.Subject.CommonName != name {
				err = fmt.Errorf("issued for %s", res.Certificate.Leaf.Subject.CommonName)
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	sim.SetFaultRate(0)
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	st := sim.State()
	per := map[string]int{}
	for _, o := range orders2020(st) {
		per[o.Domains[0]]++
	}
	for i := range n {
		name := fmt.Sprintf("app%d.example.com", i)
		if per[name] != 1 {
			t.Errorf("%s: %d orders", name, per[name])
		}
		if stores[i].get().OrderID == "" {
			t.Errorf("%s: no order recorded", name)
		}
	}
	t.Logf("faults %d, calls %v", st.Faults, st.Calls)
	if st.Faults == 0 {
		t.Error("no fault was injected")
	}
}

// Throttling: the issuer backs off and every request is issued with a
// bounded number of calls.
func TestSimThrottling(t *testing.T) {
	const n = 5
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: n}}, Validation: "auto"})
	sim.SetThrottleQPS(2)
	sg, err := signer.New(simConfig(url))
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	csrs := make([][]byte, n)
	for i := range n {
		csrs[i] = csrFor(t, key, fmt.Sprintf("t%d.example.com", i))
	}
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = drive(t, sg, signer.Request{CSRPEM: csrs[i]}, &memStore{}, 60*time.Second)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	st := sim.State()
	total := 0
	for _, c := range st.Calls {
		total += c
	}
	t.Logf("throttled %d, calls %v", st.Throttled, st.Calls)
	if len(orders2020(st)) != n || st.Calls["CreateCertificateWithCsrRequest"] > 3*n {
		t.Fatalf("orders %d, calls %v", len(orders2020(st)), st.Calls)
	}
	if st.Throttled == 0 {
		t.Error("the simulator never throttled: the test proves nothing")
	}
	if total > 5*n || st.Throttled > 3*n {
		t.Fatalf("%d calls, %d throttled for %d requests", total, st.Throttled, n)
	}
}

func TestSimQuotaExhausted(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 1}}, Validation: "auto"})
	sg, err := signer.New(simConfig(url))
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	if _, err := drive(t, sg, signer.Request{CSRPEM: csrFor(t, key, "one.example.com")}, &memStore{}, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	_, err = drive(t, sg, signer.Request{CSRPEM: csrFor(t, key, "two.example.com")}, store, 20*time.Second)
	if p, ok := signer.AsPermanent(err); !ok || p.Reason != "QuotaExhausted" {
		t.Fatalf("got %v", err)
	}
	if st := store.get(); st.Creating != nil || st.OrderID != "" {
		t.Fatalf("state %+v", st)
	}
	if len(orders2020(sim.State())) != 1 {
		t.Fatal("order count")
	}
}

func TestSimStrictCN(t *testing.T) {
	_, url := startSim(t, aliyunsim.Config{Validation: "auto", StrictCN: true})
	sg, err := signer.New(simConfig(url))
	if err != nil {
		t.Fatal(err)
	}
	_, err = sg.Sign(context.Background(), signer.Request{CSRPEM: csrFor(t, rsaKey(t), "", "nocn.example.com")}, &memStore{})
	if p, ok := signer.AsPermanent(err); !ok || !strings.Contains(p.Error(), "spec.commonName") {
		t.Fatalf("got %v", err)
	}
}

func TestSimAssumeRole(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{Validation: "auto", Roles: []string{"acs:ram::1000000000000000:role/cas-issuer"}})
	cfg := simConfig(url)
	cfg.Credentials.RoleARN = "acs:ram::1000000000000000:role/cas-issuer"
	cfg.Credentials.STSEndpoint = url
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	res, err := drive(t, sg, signer.Request{CSRPEM: csrFor(t, key, "role.example.com")}, &memStore{}, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, res, key, "role.example.com")
	if sim.State().Calls["AssumeRole"] != 1 {
		t.Fatalf("calls %v", sim.State().Calls)
	}

	cfg.Credentials.RoleARN = "acs:ram::1000000000000000:role/someone-else"
	sg, err = signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sg.Check(context.Background()); err == nil {
		t.Fatal("unknown role accepted")
	} else if _, ok := signer.AsIssuer(err); !ok {
		t.Fatalf("got %v", err)
	}
}

func TestSimIssuerErrors(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{Validation: "auto"})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	refused := "http://" + l.Addr().String()
	l.Close()

	for _, tc := range []struct {
		name string
		mod  func(*signer.Config)
	}{
		{"wrong secret", func(c *signer.Config) { c.Credentials.AccessKeySecret = "not-the-secret" }},
		{"unknown key", func(c *signer.Config) { c.Credentials.AccessKeyID = "test-nobody-knows-me" }},
		{"unknown endpoint host", func(c *signer.Config) { c.Endpoint = "http://cas.no-such-host.invalid" }},
		{"connection refused", func(c *signer.Config) { c.Endpoint = refused }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := simConfig(url)
			tc.mod(&cfg)
			sg, err := signer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := sg.Check(context.Background()); err == nil {
				t.Fatal("Check passed")
			} else if _, ok := signer.AsIssuer(err); !ok {
				t.Fatalf("Check: got %T %v", err, err)
			}
			store := &memStore{}
			_, err = sg.Sign(context.Background(), signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.example.com")}, store)
			if _, ok := signer.AsIssuer(err); !ok {
				t.Fatalf("Sign: got %T %v", err, err)
			}
			if strings.Contains(err.Error(), "not-the-secret") {
				t.Fatalf("secret in the message: %v", err)
			}
			if st := store.get(); st.Creating != nil {
				t.Fatalf("left Creating after a refused call: %+v", st)
			}
		})
	}
	if n := len(orders2020(sim.State())); n != 0 {
		t.Fatalf("%d orders", n)
	}
}
