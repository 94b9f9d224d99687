package signer

import (
	"context"
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The CSR flow against recorded, Alibaba-shaped answers: a replay server
// answers each action from a script, and a recording StateStore shows what
// was persisted and when.

type reply struct {
	status int
	body   string
}

func ok(body string) reply { return reply{200, body} }

func apiErr(status int, code, msg string) reply {
	b, _ := json.Marshal(map[string]string{"RequestId": "0C5E2E1B-REPLAY", "HostId": "cas.aliyuncs.com", "Code": code, "Message": msg,
		"Recommend": "https://api.aliyun.com/troubleshoot?q=" + code})
	return reply{status, string(b)}
}

func jsonBody(v map[string]any) string {
	v["RequestId"] = "0C5E2E1B-REPLAY"
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

type call struct {
	action string
	params url.Values
}

// replay answers each action with the next reply of its script; the last
// reply repeats.
type replay struct {
	*httptest.Server
	mu     sync.Mutex
	script map[string][]reply
	calls  []call
	before func(action string) // runs before answering
}

func newReplay(t *testing.T, script map[string][]reply) *replay {
	r := &replay{script: script}
	r.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		_ = req.ParseForm()
		a := req.Form.Get("Action")
		r.mu.Lock()
		r.calls = append(r.calls, call{a, req.Form})
		before := r.before
		q := r.script[a]
		var rep reply
		switch {
		case len(q) == 0:
			rep = apiErr(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method.")
		case len(q) == 1:
			rep = q[0]
		default:
			rep, r.script[a] = q[0], q[1:]
		}
		r.mu.Unlock()
		if before != nil {
			before(a)
		}
		w.Header().Set("Content-Type", "application/json;charset=utf-8")
		w.WriteHeader(rep.status)
		_, _ = w.Write([]byte(rep.body))
	}))
	t.Cleanup(r.Close)
	return r
}

func (r *replay) actions() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, c := range r.calls {
		out = append(out, c.action)
	}
	return out
}

func (r *replay) count(action string) int {
	n := 0
	for _, a := range r.actions() {
		if a == action {
			n++
		}
	}
	return n
}

func (r *replay) params(action string) []url.Values {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []url.Values
	for _, c := range r.calls {
		if c.action == action {
			out = append(out, c.params)
		}
	}
	return out
}

// recStore records every Save and can fail chosen ones (1-based), and what
// the signer hands over with Learn.
type recStore struct {
	mu      sync.Mutex
	saved   []OrderState
	learned []OrderState
	latest  OrderState
	tries   int
	failAt  map[int]bool
}

func (s *recStore) Learn(st OrderState) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.learned = append(s.learned, st)
	s.latest = st
}

func (s *recStore) Save(_ context.Context, st OrderState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tries++
	if s.failAt[s.tries] {
		return errors.New("etcd is unhappy")
	}
	s.saved = append(s.saved, st)
	s.latest = st
	return nil
}

// last is the state handed over last, saved or learned: what the
// controller holds once its next write is made.
func (s *recStore) last() OrderState {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.latest
}

var t0 = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

func testConfig(endpoint string) Config {
	return Config{
		Endpoint:    endpoint,
		Credentials: Credentials{AccessKeyID: "test-key-id", AccessKeySecret: "testsecret"},
		OrderAPI:    OrderAPICSR, // the package flow; the default is Instance
		ProductCode: "digicert-free-1-free",
		Contact:     Contact{Username: "Ops", Email: "ops@example.com", Phone: "13800000000"},
		RateLimit:   1000, Burst: 1000,
		Timeout:   2 * time.Second,
		Endpoints: EndpointPolicy{AllowInsecure: true}, // httptest serves plain http
	}
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

func newTestSigner(t *testing.T, endpoint string, mod func(*Config)) (*csrSigner, *clock) {
	t.Helper()
	cfg := testConfig(endpoint)
	if mod != nil {
		mod(&cfg)
	}
	sg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s := sg.(*csrSigner)
	c := &clock{t: t0}
	s.now = c.now
	return s, c
}

func ms(t time.Time) int64 { return t.UnixMilli() }

func TestSignCreatesAfterPersistingIntent(t *testing.T) {
	key := rsaKey(t, 2048)
	r := newReplay(t, map[string][]reply{
		"CreateCertificateWithCsrRequest": {ok(jsonBody(map[string]any{"OrderId": 8675309}))},
		"DescribeCertificateState": {ok(jsonBody(map[string]any{"Type": "domain_verify", "Domain": "www.example.com", "ValidateType": "DNS",
			"RecordDomain": "_dnsauth", "RecordType": "TXT", "RecordValue": "202603010000001n8q9nyv3sl2n7p3zq"}))},
	})
	s, _ := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	r.before = func(action string) {
		if action == "CreateCertificateWithCsrRequest" {
			if st := store.last(); st.Creating == nil || st.OrderID != "" {
				t.Errorf("create called with persisted state %+v", st)
			}
		}
	}
	csr := simpleCSR(t, key, "www.example.com", "www.example.com")
	res, err := s.Sign(context.Background(), Request{Name: "ns/cr", CSRPEM: csr}, store)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.actions(), ","); got != "CreateCertificateWithCsrRequest,DescribeCertificateState" {
		t.Fatalf("calls %s", got)
	}
	p := r.params("CreateCertificateWithCsrRequest")[0]
	if p.Get("Csr") != string(csr) || p.Get("ProductCode") != "digicert-free-1-free" || p.Get("Username") != "Ops" ||
		p.Get("Phone") != "13800000000" || p.Get("Email") != "ops@example.com" || p.Get("ValidateType") != "DNS" {
		t.Errorf("create params %v", p)
	}
	// The intent is saved; the id, learned from the create's answer,
	// rides on the controller's next write.
	if len(store.saved) != 1 || len(store.learned) != 1 {
		t.Fatalf("saved %+v, learned %+v", store.saved, store.learned)
	}
	if st := store.saved[0]; st.Creating == nil || !st.Creating.Equal(t0) || st.OrderID != "" {
		t.Errorf("save %+v", st)
	}
	if st := store.learned[0]; st.OrderID != "8675309" || st.Creating != nil || st.OrderedAt == nil || !st.OrderedAt.Equal(t0) {
		t.Errorf("learned %+v", st)
	}
	pd := res.Pending
	if pd == nil || pd.Reason != ReasonDomainVerify || res.Certificate != nil {
		t.Fatalf("result %+v", res)
	}
	if want := "create DNS TXT record _dnsauth.www.example.com = 202603010000001n8q9nyv3sl2n7p3zq"; !strings.HasPrefix(pd.Message, want) {
		t.Errorf("message %q, want prefix %q", pd.Message, want)
	}
	if v := pd.Validation; v == nil || v.RecordName != "_dnsauth.www.example.com" || v.RecordType != "TXT" || v.Method != "DNS" {
		t.Errorf("validation %+v", pd.Validation)
	}
	if pd.RetryAfter != DefaultPollInterval {
		t.Errorf("RetryAfter %v", pd.RetryAfter)
	}
}

func TestSignDoesNotCallWhenIntentCannotBeSaved(t *testing.T) {
	r := newReplay(t, map[string][]reply{"CreateCertificateWithCsrRequest": {ok(`{"OrderId":1}`)}})
	s, _ := newTestSigner(t, r.URL, nil)
	store := &recStore{failAt: map[int]bool{1: true}}
	_, err := s.Sign(context.Background(), Request{CSRPEM: simpleCSR(t, rsaKey(t, 2048), "www.example.com")}, store)
	if te, ok := AsTransient(err); !ok || te.Reason != ReasonStateNotSaved {
		t.Fatalf("got %v", err)
	}
	if n := len(r.actions()); n != 0 {
		t.Fatalf("%d remote calls", n)
	}
}

func TestSignLocalChecksComeFirst(t *testing.T) {
	r := newReplay(t, nil)
	s, _ := newTestSigner(t, r.URL, nil)
	k := ecKey(t, elliptic.P521())
	_, err := s.Sign(context.Background(), Request{CSRPEM: simpleCSR(t, k, "www.example.com")}, &recStore{})
	if p, ok := AsPermanent(err); !ok || p.Reason != ReasonUnsupportedKey {
		t.Fatalf("got %v", err)
	}
	if len(r.actions()) != 0 {
		t.Fatal("remote call before local checks")
	}
}

// A create whose answer is lost must never be repeated blindly: the next
// Sign finds the order by listing.
func TestLostCreateIsRecoveredByListing(t *testing.T) {
	key := rsaKey(t, 2048)
	names := []string{"www.example.com", "example.com"}
	r := newReplay(t, map[string][]reply{
		"CreateCertificateWithCsrRequest": {apiErr(500, "InternalError", "The request processing has failed due to some unknown error.")},
		"ListUserCertificateOrder": {ok(jsonBody(map[string]any{"TotalCount": 4, "ShowSize": 50, "CurrentPage": 1, "CertificateOrderList": []map[string]any{
			{"OrderId": 99, "Domain": "www.example.com", "Sans": "www.example.com,example.com", "Status": "ISSUED", "BuyDate": ms(t0.Add(-time.Hour))},
			{"OrderId": 112, "Domain": "www.example.com", "Sans": "www.example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(2 * time.Second))},
			{"OrderId": 113, "Domain": "www.example.com", "Sans": "www.example.com,example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(3 * time.Second))},
			{"OrderId": 111, "Domain": "www.example.com", "Sans": "example.com,www.example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(time.Second))},
		}}))},
		"DescribeCertificateState": {ok(jsonBody(map[string]any{"Type": "process", "Domain": "www.example.com"}))},
	})
	s, clk := newTestSigner(t, r.URL, func(c *Config) { c.ProductCode = "globalsign-dv-w-advanced" })
	store := &recStore{}
	req := Request{CSRPEM: simpleCSR(t, key, names[0], names...)}

	_, err := s.Sign(context.Background(), req, store)
	te, ok := AsTransient(err)
	if !ok || te.Reason != ReasonOrderMaybeCreated {
		t.Fatalf("got %v", err)
	}
	st := store.last()
	if st.Creating == nil || st.OrderID != "" {
		t.Fatalf("state after a lost answer %+v", st)
	}

	// Within the settle time nothing is created, even if nothing is listed.
	req.State = st
	clk.add(5 * time.Second)
	res, err := s.Sign(context.Background(), req, store)
	if err != nil {
		t.Fatal(err)
	}
	if r.count("CreateCertificateWithCsrRequest") != 1 {
		t.Fatalf("created again: %v", r.actions())
	}
	if got := store.last(); got.OrderID != "111" || got.Creating != nil || got.OrderedAt == nil || !got.OrderedAt.Equal(t0) {
		t.Fatalf("adopted state %+v", got)
	}
	if res.Pending == nil || res.Pending.Reason != ReasonCAReview {
		t.Fatalf("result %+v", res)
	}
	lp := r.params("ListUserCertificateOrder")[0]
	if lp.Get("OrderType") != "CPACK" || lp.Get("Keyword") != "www.example.com" {
		t.Errorf("list params %v", lp)
	}
}

func TestRecoveryWaitsThenOrdersAgain(t *testing.T) {
	key := rsaKey(t, 2048)
	r := newReplay(t, map[string][]reply{
		"ListUserCertificateOrder":        {ok(jsonBody(map[string]any{"TotalCount": 0, "CertificateOrderList": []any{}}))},
		"CreateCertificateWithCsrRequest": {ok(jsonBody(map[string]any{"OrderId": 5}))},
		"DescribeCertificateState":        {ok(jsonBody(map[string]any{"Type": "process"}))},
	})
	s, clk := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	creating := t0
	req := Request{CSRPEM: simpleCSR(t, key, "www.example.com"), State: OrderState{Creating: &creating}}

	clk.add(time.Second)
	_, err := s.Sign(context.Background(), req, store)
	if te, ok := AsTransient(err); !ok || te.Reason != ReasonOrderLookup || te.RetryAfter <= 0 || te.RetryAfter > s.settle {
		t.Fatalf("got %v", err)
	}
	if r.count("CreateCertificateWithCsrRequest") != 0 {
		t.Fatal("ordered again within the settle time")
	}

	if st := store.last(); st.EmptyListings != 1 || st.Creating == nil {
		t.Fatalf("the empty listing is not recorded: %+v", st)
	}

	clk.add(s.settle)
	req.State = store.last()
	if _, err := s.Sign(context.Background(), req, store); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(r.actions(), ","); got != "ListUserCertificateOrder,ListUserCertificateOrder,CreateCertificateWithCsrRequest,DescribeCertificateState" {
		t.Fatalf("calls %s", got)
	}
	if store.last().OrderID != "5" {
		t.Fatalf("state %+v", store.last())
	}
}

// After a lost create, the settle time alone is not enough: more than one
// listing must have found nothing, counted across restarts (in the state),
// before a second order is placed.
// A multi-name CSR for a single-name product is refused before anything is
// ordered.
func TestMultiNameCSRForSingleNameProduct(t *testing.T) {
	r := newReplay(t, map[string][]reply{})
	s, _ := newTestSigner(t, r.URL, nil) // digicert-free-1-free
	_, err := s.Sign(context.Background(), Request{CSRPEM: simpleCSR(t, rsaKey(t, 2048), "www.example.com", "www.example.com", "api.example.com")}, &recStore{})
	if p, ok := AsPermanent(err); !ok || p.Reason != ReasonTooManyNames {
		t.Fatalf("got %v", err)
	}
	if n := len(r.actions()); n != 0 {
		t.Fatalf("%d remote calls: %v", n, r.actions())
	}
}

// The recovery of a lost create never adopts an order another request
// records, even one for the same names placed after the intent.
func TestRecoveryNeverAdoptsAnotherRequestsOrder(t *testing.T) {
	key := rsaKey(t, 2048)
	r := newReplay(t, map[string][]reply{
		"ListUserCertificateOrder": {ok(jsonBody(map[string]any{"TotalCount": 2, "CertificateOrderList": []map[string]any{
			{"OrderId": 301, "Domain": "www.example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(time.Second))},
			{"OrderId": 302, "Domain": "www.example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(2 * time.Second))},
		}}))},
		"DescribeCertificateState": {ok(jsonBody(map[string]any{"Type": "process"}))},
	})
	s, clk := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	creating := t0
	var asked []string
	req := Request{CSRPEM: simpleCSR(t, key, "www.example.com"), State: OrderState{Creating: &creating},
		OrderTaken: func(_ context.Context, id string) (bool, error) { asked = append(asked, id); return id == "301", nil }}
	clk.add(5 * time.Second)
	if _, err := s.Sign(context.Background(), req, store); err != nil {
		t.Fatal(err)
	}
	if got := store.last().OrderID; got != "302" {
		t.Fatalf("adopted %q (asked %v), want 302: 301 belongs to another request", got, asked)
	}
}

// Right after a create, an order CAS does not find yet is transient; long
// after, it is final.
func TestFreshOrderNotFoundIsTransient(t *testing.T) {
	key := rsaKey(t, 2048)
	for _, tc := range []struct {
		elapsed   time.Duration
		transient bool
	}{{10 * time.Second, true}, {DefaultSettleTime + time.Minute, false}} {
		r := newReplay(t, map[string][]reply{"DescribeCertificateState": {apiErr(404, "NotFoundOrder", "The order does not exist.")}})
		s, clk := newTestSigner(t, r.URL, nil)
		at := t0
		clk.add(tc.elapsed)
		_, err := s.Sign(context.Background(), Request{CSRPEM: simpleCSR(t, key, "www.example.com"), State: OrderState{OrderID: "9", OrderedAt: &at}}, &recStore{})
		if te, ok := AsTransient(err); ok != tc.transient || (ok && te.Reason != ReasonOrderNotVisible) {
			t.Errorf("after %s: got %v", tc.elapsed, err)
		}
	}
}

func TestRecoveryNeedsTwoEmptyListings(t *testing.T) {
	key := rsaKey(t, 2048)
	r := newReplay(t, map[string][]reply{
		"ListUserCertificateOrder":        {ok(jsonBody(map[string]any{"TotalCount": 0, "CertificateOrderList": []any{}}))},
		"CreateCertificateWithCsrRequest": {ok(jsonBody(map[string]any{"OrderId": 6}))},
		"DescribeCertificateState":        {ok(jsonBody(map[string]any{"Type": "process"}))},
	})
	s, clk := newTestSigner(t, r.URL, nil)
	if s.settle < 2*time.Minute {
		t.Fatalf("the default settle time is %s, not several minutes", s.settle)
	}
	store := &recStore{}
	creating := t0
	req := Request{CSRPEM: simpleCSR(t, key, "www.example.com"), State: OrderState{Creating: &creating}}
	// The first look comes only after the settle time (e.g. the controller
	// was down): one empty listing is not enough.
	clk.add(s.settle + time.Minute)
	if _, err := s.Sign(context.Background(), req, store); err == nil {
		t.Fatal("ordered again after a single empty listing")
	} else if te, ok := AsTransient(err); !ok || te.Reason != ReasonOrderLookup {
		t.Fatalf("got %v", err)
	}
	if r.count("CreateCertificateWithCsrRequest") != 0 {
		t.Fatal("ordered again after a single empty listing")
	}
	req.State = store.last()
	if _, err := s.Sign(context.Background(), req, store); err != nil {
		t.Fatal(err)
	}
	if r.count("CreateCertificateWithCsrRequest") != 1 || store.last().OrderID != "6" || store.last().EmptyListings != 0 {
		t.Fatalf("calls %v state %+v", r.actions(), store.last())
	}
}

func TestRecoveryReadsAllPages(t *testing.T) {
	key := rsaKey(t, 2048)
	filler := make([]map[string]any, 50)
	for i := range filler {
		filler[i] = map[string]any{"OrderId": 1000 + i, "Domain": "www.example.com", "BuyDate": ms(t0.Add(-48 * time.Hour))}
	}
	r := newReplay(t, map[string][]reply{
		"ListUserCertificateOrder": {
			ok(jsonBody(map[string]any{"TotalCount": 51, "CertificateOrderList": filler})),
			ok(jsonBody(map[string]any{"TotalCount": 51, "CertificateOrderList": []map[string]any{{"OrderId": "77", "Domain": "www.example.com", "BuyDate": ms(t0.Add(time.Second))}}})),
		},
		"DescribeCertificateState": {ok(jsonBody(map[string]any{"Type": "process"}))},
	})
	s, clk := newTestSigner(t, r.URL, nil)
	clk.add(time.Minute)
	store := &recStore{}
	creating := t0
	if _, err := s.Sign(context.Background(), Request{CSRPEM: simpleCSR(t, key, "www.example.com"), State: OrderState{Creating: &creating}}, store); err != nil {
		t.Fatal(err)
	}
	ps := r.params("ListUserCertificateOrder")
	if len(ps) != 2 || ps[1].Get("CurrentPage") != "2" {
		t.Fatalf("list calls %v", ps)
	}
	if store.last().OrderID != "77" {
		t.Fatalf("state %+v", store.last())
	}
}

func TestPollOutcomes(t *testing.T) {
	key := rsaKey(t, 2048)
	ca := newTestCA(t)
	leaf := ca.issue(t, key.Public(), 90*24*time.Hour, "www.example.com")
	otherLeaf := ca.issue(t, ecKey(t, elliptic.P256()).Public(), 90*24*time.Hour, "www.example.com")
	crlf := strings.ReplaceAll(pemOf(ca.root, leaf, ca.inter), "\n", "\r\n")

	for _, tc := range []struct {
		name     string
		csrNames []string
		mod      func(*Config)
		req      func(*Request)
		state    map[string]any
		elapsed  time.Duration
		check    func(t *testing.T, res Outcome, err error, r *replay)
	}{
		{
			name:  "domain_verify with a full record name",
			state: map[string]any{"Type": "domain_verify", "Domain": "www.example.com", "RecordDomain": "_dnsauth.www.example.com", "RecordType": "TXT", "RecordValue": "v1"},
			check: wantPending(ReasonDomainVerify, "create DNS TXT record _dnsauth.www.example.com = v1"),
		},
		{
			name:     "domain_verify on a wildcard validates the base domain",
			csrNames: []string{"*.example.com"},
			mod:      func(c *Config) { c.ProductCode = "geotrust-dv-w-starter" },
			state:    map[string]any{"Type": "domain_verify", "Domain": "*.example.com", "ValidateType": "DNS", "RecordDomain": "_dnsauth", "RecordType": "TXT", "RecordValue": "v2"},
			check:    wantPending(ReasonDomainVerify, "create DNS TXT record _dnsauth.example.com = v2"),
		},
		{
			name:  "domain_verify CNAME, zone-relative host record (not doubled)",
			state: map[string]any{"Type": "domain_verify", "Domain": "www.example.com", "ValidateType": "DNS", "RecordDomain": "_dnsauth.www", "RecordType": "CNAME", "RecordValue": "x.dnsauth.example"},
			check: wantPending(ReasonDomainVerify, "create DNS CNAME record _dnsauth.www.example.com = x.dnsauth.example"),
		},
		{
			name:  "domain_verify FILE",
			mod:   func(c *Config) { c.ValidationMethod = "FILE" },
			state: map[string]any{"Type": "domain_verify", "Domain": "www.example.com", "ValidateType": "FILE", "Uri": "/.well-known/pki-validation/fileauth.txt", "Content": "20260301abc"},
			check: wantPending(ReasonDomainVerify, "serve http://www.example.com/.well-known/pki-validation/fileauth.txt with content 20260301abc"),
		},
		{
			name:  "process",
			state: map[string]any{"Type": "process", "Domain": "www.example.com"},
			check: wantPending(ReasonCAReview, "the CA is reviewing CAS order 42"),
		},
		{
			name:    "process: looked at soon, a tenth of the order's age",
			state:   map[string]any{"Type": "process"},
			elapsed: 100 * time.Second, // the CA reviews: the certificate follows within moments
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if err != nil || res.Pending == nil || res.Pending.RetryAfter != 10*time.Second {
					t.Fatalf("got %+v, %v", res.Pending, err)
				}
			},
		},
		{
			name:  "certificate: CRLF, any order, root split out, duration note",
			state: map[string]any{"Type": "certificate", "Certificate": crlf, "PrivateKey": "", "CertId": 4711},
			req:   func(r *Request) { r.Duration = 30 * 24 * time.Hour },
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if err != nil {
					t.Fatal(err)
				}
				if string(res.Certificate.Chain) != pemOf(leaf, ca.inter) || string(res.Certificate.CA) != pemOf(ca.root) || !res.Certificate.Leaf.Equal(leaf) || res.Pending != nil {
					t.Fatalf("chain:\n%s\nCA:\n%s", res.Certificate.Chain, res.Certificate.CA)
				}
				notes := strings.Join(res.Notes, "\n")
				if res.Certificate.Summary() != "CAS order 42 issued a certificate valid until "+leaf.NotAfter.UTC().Format(time.RFC3339) || !strings.Contains(notes, "not honoured by CAS") {
					t.Fatalf("notes %q", notes)
				}
			},
		},
		{
			name:  "certificate: bare leaf, duration as requested",
			state: map[string]any{"Type": "certificate", "Certificate": pemOf(leaf)},
			req:   func(r *Request) { r.Duration = 90 * 24 * time.Hour },
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if err != nil || string(res.Certificate.Chain) != pemOf(leaf) || res.Certificate.CA != nil || len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "root CA of CAS order 42 is unknown") {
					t.Fatalf("got %+v, %v", res, err)
				}
			},
		},
		{
			name:  "certificate for another key",
			state: map[string]any{"Type": "certificate", "Certificate": pemOf(otherLeaf, ca.inter)},
			check: wantPermanent(ReasonKeyMismatch, "not for the CSR's key"),
		},
		{
			// The CSR's key, but not all of its names: failing is better than
			// a certificate that makes cert-manager order again.
			name:  "certificate for other names",
			state: map[string]any{"Type": "certificate", "Certificate": pemOf(ca.issue(t, key.Public(), time.Hour, "other.example.com"), ca.inter)},
			check: wantPermanent(ReasonNameMismatch, "does not cover www.example.com"),
		},
		{
			// An odd answer for an issued order is looked at again, never a
			// failure that makes cert-manager order again.
			name:  "certificate unusable",
			state: map[string]any{"Type": "certificate", "Certificate": "oops"},
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if te, ok := AsTransient(err); !ok || te.Reason != ReasonBadChain || !strings.Contains(te.Error(), "order 42") {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:  "certificate with the intermediate twice",
			state: map[string]any{"Type": "certificate", "Certificate": pemOf(leaf, ca.inter, ca.inter)},
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if err != nil || res.Kind != OutcomeIssued || string(res.Certificate.Chain) != pemOf(leaf, ca.inter) {
					t.Fatalf("got %+v, %v", res, err)
				}
			},
		},
		{
			name:  "verify_fail",
			state: map[string]any{"Type": "verify_fail", "Domain": "www.example.com"},
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				wantPermanent(ReasonVerifyFailed, "could not validate www.example.com for CAS order 42")(t, res, err, r)
				if r.count("DeleteCertificateRequest") != 1 {
					t.Fatalf("calls %v", r.actions())
				}
			},
		},
		{
			// "payed" is pending application (待申请): right after the
			// create it is a passing state, not a cancelled order.
			name:  "payed right after the create",
			state: map[string]any{"Type": "payed"},
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if err != nil || res.Pending == nil || res.Pending.Reason != ReasonPendingApplication || res.Pending.RetryAfter <= 0 {
					t.Fatalf("got %+v, %v", res, err)
				}
			},
		},
		{
			name:    "payed long after the create (cancelled)",
			state:   map[string]any{"Type": "payed"},
			elapsed: payedGrace + time.Minute,
			check:   wantPermanent(ReasonOrderCancelled, "cancelled"),
		},
		{
			name:  "unknow",
			state: map[string]any{"Type": "unknow"},
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if te, ok := AsTransient(err); !ok || te.Reason != ReasonUnknownOrderState || !strings.Contains(te.Error(), `"unknow"`) || te.RetryAfter <= 0 {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:  "something new",
			state: map[string]any{"Type": "reissuing"},
			check: func(t *testing.T, res Outcome, err error, r *replay) {
				if _, ok := AsTransient(err); !ok {
					t.Fatalf("got %v", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplay(t, map[string][]reply{
				"DescribeCertificateState": {ok(jsonBody(tc.state))},
				"DeleteCertificateRequest": {ok(jsonBody(map[string]any{}))},
			})
			s, clk := newTestSigner(t, r.URL, tc.mod)
			names := tc.csrNames
			if names == nil {
				names = []string{"www.example.com"}
			}
			orderedAt := t0
			req := Request{CSRPEM: simpleCSR(t, key, names[0], names...), State: OrderState{OrderID: "42", OrderedAt: &orderedAt}}
			if tc.req != nil {
				tc.req(&req)
			}
			clk.add(tc.elapsed)
			store := &recStore{}
			res, err := s.Sign(context.Background(), req, store)
			tc.check(t, res, err, r)
			if r.count("CreateCertificateWithCsrRequest") != 0 || len(store.saved) != 0 {
				t.Fatalf("polling created or saved: %v %+v", r.actions(), store.saved)
			}
			if p := r.params("DescribeCertificateState"); len(p) == 0 || p[0].Get("OrderId") != "42" {
				t.Fatalf("describe params %v", p)
			}
		})
	}
}

func wantPending(reason, msgPrefix string) func(*testing.T, Outcome, error, *replay) {
	return func(t *testing.T, res Outcome, err error, _ *replay) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		if res.Pending == nil || res.Pending.Reason != reason || !strings.Contains(res.Pending.Message, msgPrefix) {
			t.Fatalf("pending %+v, want %s %q", res.Pending, reason, msgPrefix)
		}
	}
}

func wantPermanent(reason, msg string) func(*testing.T, Outcome, error, *replay) {
	return func(t *testing.T, res Outcome, err error, _ *replay) {
		t.Helper()
		p, ok := AsPermanent(err)
		if !ok || p.Reason != reason || !strings.Contains(p.Error(), msg) {
			t.Fatalf("got %v, want permanent %s containing %q", err, reason, msg)
		}
	}
}

func TestCreateFailures(t *testing.T) {
	key := rsaKey(t, 2048)
	for _, tc := range []struct {
		name    string
		reply   reply
		noCN    bool
		check   func(t *testing.T, err error)
		keepInt bool // Creating stays recorded
		calls   int  // creates sent (0: one)
	}{
		{
			name:  "quota exhausted",
			reply: apiErr(400, "QuotaExceeded.Package", "The resource package has no certificate left."),
			check: func(t *testing.T, err error) {
				if p, ok := AsPermanent(err); !ok || p.Reason != ReasonQuotaExhausted {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			// CAS's published code for a used-up package, with a CN-less CSR:
			// quota, and no advice about the Common Name.
			name:  "NotRemainCount, no CN",
			reply: apiErr(404, "NotRemainCount", "The resource package has no certificate left."),
			noCN:  true,
			check: func(t *testing.T, err error) {
				if p, ok := AsPermanent(err); !ok || p.Reason != ReasonQuotaExhausted || strings.Contains(p.Error(), "spec.commonName") {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:  "NotFoundPackage",
			reply: apiErr(404, "NotFoundPackage", "No resource package of the product was found."),
			noCN:  true,
			check: func(t *testing.T, err error) {
				if i, ok := AsIssuer(err); !ok || i.Reason != "NoPackage" || strings.Contains(i.Error(), "spec.commonName") {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:  "CSR refused, no CN",
			reply: apiErr(400, "InvalidParameter.CommonName", "The CSR has no Common Name."),
			noCN:  true,
			check: func(t *testing.T, err error) {
				if p, ok := AsPermanent(err); !ok || !strings.Contains(p.Error(), "set spec.commonName") {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:  "bad credentials",
			reply: apiErr(404, "InvalidAccessKeyId.NotFound", "Specified access key is not found."),
			check: func(t *testing.T, err error) {
				if i, ok := AsIssuer(err); !ok || i.Reason != "InvalidCredentials" {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:  "unsupported API",
			reply: apiErr(404, "InvalidAction.NotFound", "Specified api is not found, please check your url and method."),
			check: func(t *testing.T, err error) {
				if i, ok := AsIssuer(err); !ok || !strings.Contains(i.Error(), "does not support this API") {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			name:    "503: maybe created",
			reply:   apiErr(503, "ServiceUnavailable", "The request has failed due to a temporary failure of the server."),
			keepInt: true,
			check: func(t *testing.T, err error) {
				if te, ok := AsTransient(err); !ok || te.Reason != ReasonOrderMaybeCreated {
					t.Fatalf("got %v", err)
				}
			},
		},
		{
			// Flow control refused every attempt: sent again (it ran
			// nothing), then given up with the intent cleared.
			name:  "throttled: certainly not created",
			reply: apiErr(400, "Throttling.User", "Request was denied due to user flow control."),
			calls: aliyun.DefaultMaxAttempts,
			check: func(t *testing.T, err error) {
				if te, ok := AsTransient(err); !ok || te.Reason != "Throttled" || te.RetryAfter < time.Second {
					t.Fatalf("got %v", err)
				}
			},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := newReplay(t, map[string][]reply{"CreateCertificateWithCsrRequest": {tc.reply}})
			s, _ := newTestSigner(t, r.URL, nil)
			store := &recStore{}
			csr := simpleCSR(t, key, "www.example.com")
			if tc.noCN {
				csr = simpleCSR(t, key, "", "www.example.com")
			}
			_, err := s.Sign(context.Background(), Request{CSRPEM: csr}, store)
			tc.check(t, err)
			if want := max(tc.calls, 1); r.count("CreateCertificateWithCsrRequest") != want {
				t.Fatalf("calls %v, want %d creates", r.actions(), want)
			}
			if got := store.last(); (got.Creating != nil) != tc.keepInt || got.OrderID != "" {
				t.Fatalf("final state %+v", got)
			}
		})
	}
}

// Throttling: a throttled create ran nothing, so the client sends it again
// after its limiter's pause, within the same Sign, and the order is placed
// once.
func TestThrottlingBackoff(t *testing.T) {
	key := rsaKey(t, 2048)
	r := newReplay(t, map[string][]reply{
		"CreateCertificateWithCsrRequest": {apiErr(400, "Throttling.User", "Request was denied due to user flow control."), ok(jsonBody(map[string]any{"OrderId": 9}))},
		"DescribeCertificateState":        {ok(jsonBody(map[string]any{"Type": "process"}))},
	})
	s, _ := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	req := Request{CSRPEM: simpleCSR(t, key, "www.example.com")}
	start := time.Now()
	if _, err := s.Sign(context.Background(), req, store); err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(start); waited < 900*time.Millisecond {
		t.Fatalf("the create was sent again without the throttle pause (%v)", waited)
	}
	if got := strings.Join(r.actions(), ","); got != "CreateCertificateWithCsrRequest,CreateCertificateWithCsrRequest,DescribeCertificateState" {
		t.Fatalf("calls %s", got)
	}
	if st := store.last(); st.OrderID != "9" || st.Creating != nil {
		t.Fatalf("final state %+v", st)
	}
}

func TestCancel(t *testing.T) {
	for _, tc := range []struct {
		state      map[string]any
		err        *reply
		want       string
		wantReason string
	}{
		{state: map[string]any{"Type": "domain_verify"}, want: "DescribeCertificateState,CancelOrderRequest,DeleteCertificateRequest", wantReason: ReasonOrderCancelled},
		{state: map[string]any{"Type": "process"}, want: "DescribeCertificateState,CancelOrderRequest,DeleteCertificateRequest", wantReason: ReasonOrderCancelled},
		{state: map[string]any{"Type": "payed"}, want: "DescribeCertificateState,DeleteCertificateRequest", wantReason: ReasonOrderCancelled},
		{state: map[string]any{"Type": "verify_fail"}, want: "DescribeCertificateState,DeleteCertificateRequest", wantReason: ReasonOrderCancelled},
		// Issued: nothing to give back.
		{state: map[string]any{"Type": "certificate"}, want: "DescribeCertificateState", wantReason: ""},
		{err: &reply{400, `{"Code":"OrderNotFound","Message":"no such order"}`}, want: "DescribeCertificateState", wantReason: ReasonOrderCancelled},
	} {
		t.Run(tc.want+fmt.Sprint(tc.state), func(t *testing.T) {
			desc := reply{}
			if tc.err != nil {
				desc = *tc.err
			} else {
				desc = ok(jsonBody(tc.state))
			}
			r := newReplay(t, map[string][]reply{
				"DescribeCertificateState": {desc},
				"CancelOrderRequest":       {ok(`{}`)},
				"DeleteCertificateRequest": {apiErr(400, "OperationDenied.OrderStatus", "already deleted")},
			})
			s, _ := newTestSigner(t, r.URL, nil)
			c, err := s.Cancel(context.Background(), OrderState{OrderID: "42"})
			if err != nil {
				t.Fatal(err)
			}
			if c.Reason != tc.wantReason {
				t.Fatalf("cancelled %+v, want reason %q", c, tc.wantReason)
			}
			if got := strings.Join(r.actions(), ","); got != tc.want {
				t.Fatalf("calls %s", got)
			}
		})
	}
	t.Run("transient errors are returned", func(t *testing.T) {
		r := newReplay(t, map[string][]reply{
			"DescribeCertificateState": {ok(jsonBody(map[string]any{"Type": "domain_verify"}))},
			"CancelOrderRequest":       {apiErr(503, "ServiceUnavailable", "later")},
		})
		s, _ := newTestSigner(t, r.URL, nil)
		_, err := s.Cancel(context.Background(), OrderState{OrderID: "42"})
		if _, ok := AsTransient(err); !ok || !strings.Contains(err.Error(), "CAS order 42 not cancelled") {
			t.Fatalf("want a transient error saying what was not cancelled, got %v", err)
		}
	})
	t.Run("nothing recorded", func(t *testing.T) {
		r := newReplay(t, nil)
		s, _ := newTestSigner(t, r.URL, nil)
		if c, err := s.Cancel(context.Background(), OrderState{}); err != nil || len(r.actions()) != 0 || c != (Cancelled{}) {
			t.Fatal(c, err, r.actions())
		}
	})
}

func TestCheck(t *testing.T) {
	r := newReplay(t, map[string][]reply{"DescribePackageState": {ok(jsonBody(map[string]any{"ProductCode": "digicert-free-1-free", "TotalCount": 20, "UsedCount": 3, "IssuedCount": 2}))}})
	s, _ := newTestSigner(t, r.URL, nil)
	h, err := s.Check(context.Background())
	if err != nil || h.Quota == nil || *h.Quota != (Quota{Total: 20, Used: 3, Issued: 2}) || h.UsableInstances != nil ||
		h.Summary != "checked "+r.URL+": 17 of 20 certificates of digicert-free-1-free left" {
		t.Fatalf("got %+v, %v", h, err)
	}
	if p := r.params("DescribePackageState")[0]; p.Get("ProductCode") != "digicert-free-1-free" {
		t.Fatalf("params %v", p)
	}
	for _, rep := range []reply{
		apiErr(400, "SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:x"),
		apiErr(400, "InvalidProductCode", "unknown product"),
		apiErr(404, "InvalidAction.NotFound", "Specified api is not found"),
	} {
		r := newReplay(t, map[string][]reply{"DescribePackageState": {rep}})
		s, _ := newTestSigner(t, r.URL, nil)
		if _, err := s.Check(context.Background()); err == nil {
			t.Fatal("no error")
		} else if _, ok := AsIssuer(err); !ok {
			t.Fatalf("%s: got %v", rep.body, err)
		}
	}
}

func TestNewValidatesConfig(t *testing.T) {
	good := testConfig("https://cas.aliyuncs.com")
	for name, mod := range map[string]func(*Config){
		"bad endpoint":      func(c *Config) { c.Endpoint = "cas.aliyuncs.com" },
		"no contact":        func(c *Config) { c.Contact = Contact{} },
		"no credentials":    func(c *Config) { c.Credentials = Credentials{} },
		"order API":         func(c *Config) { c.OrderAPI = "ACME" },
		"validation method": func(c *Config) { c.ValidationMethod = "HTTP" },
		"DV needs province": func(c *Config) { c.OrderAPI = OrderAPIDVOrder },
	} {
		cfg := good
		mod(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		} else if i, ok := AsIssuer(err); !ok || i.Reason != ReasonInvalidConfig {
			t.Errorf("%s: got %v", name, err)
		}
		if strings.Contains(fmt.Sprint(cfg), "testsecret") || strings.Contains(fmt.Sprintf("%+v", cfg), "testsecret") || strings.Contains(fmt.Sprintf("%#v", cfg), "testsecret") {
			t.Errorf("config prints the secret")
		}
	}
	cfg := good
	cfg.OrderAPI = OrderAPIDVOrder
	cfg.Contact.Province, cfg.Contact.City = "Zhejiang", "Hangzhou"
	sg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sg.Sign(context.Background(), Request{}, &recStore{}); err == nil {
		t.Fatal("DVOrder signed")
	} else if p, ok := AsPermanent(err); !ok || p.Reason != ReasonKeyAdoptionOff {
		t.Fatalf("got %v", err)
	}
	d := Config{}.WithDefaults()
	if d.PollInterval != 30*time.Second || d.MaxPollInterval != 10*time.Minute || d.RateLimit != 5 || d.Burst != 10 ||
		d.Timeout != 30*time.Second || d.OrderAPI != OrderAPIInstance || d.ValidationMethod != "DNS" || d.Endpoint != "https://cas.aliyuncs.com" {
		t.Fatalf("defaults %+v", d)
	}
}

// The order id is handed to the store as soon as it is known, also when
// the first look finds the order issued, but not saved on its own: it
// rides on the controller's next write, and the intent alone is durable
// before the create.
func TestOrderIDLearnedBeforeAnIssuedFirstLook(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	ca := newTestCA(t)
	leaf := ca.issue(t, key.Public(), 90*24*time.Hour, "www.example.com")
	r := newReplay(t, map[string][]reply{
		"CreateCertificateWithCsrRequest": {ok(jsonBody(map[string]any{"OrderId": 4242}))},
		"DescribeCertificateState":        {ok(jsonBody(map[string]any{"Type": "certificate", "Certificate": pemOf(leaf, ca.inter)}))},
	})
	s, _ := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	var savedBeforeLook bool
	r.before = func(action string) {
		if action == "DescribeCertificateState" {
			savedBeforeLook = store.last().OrderID == "4242"
		}
	}
	res, err := s.Sign(context.Background(), Request{Name: "ns/cr", CSRPEM: simpleCSR(t, key, "www.example.com", "www.example.com")}, store)
	if err != nil || res.Kind != OutcomeIssued {
		t.Fatalf("%+v %v", res, err)
	}
	if !savedBeforeLook {
		t.Fatalf("the order id was not handed over before the first look: saves %+v, learned %+v", store.saved, store.learned)
	}
	if len(store.saved) != 1 || store.saved[0].Creating == nil || store.saved[0].OrderID != "" {
		t.Fatalf("saves %+v, want the intent alone", store.saved)
	}
}

// Recovering a lost create never takes over an order another request holds
// (two tenants may order the same names at the same time): the next
// candidate is taken instead.
func TestRecoverySkipsOrdersOthersHold(t *testing.T) {
	key := rsaKey(t, 2048)
	r := newReplay(t, map[string][]reply{
		"ListUserCertificateOrder": {ok(jsonBody(map[string]any{"TotalCount": 2, "ShowSize": 50, "CurrentPage": 1, "CertificateOrderList": []map[string]any{
			{"OrderId": 111, "Domain": "www.example.com", "Sans": "www.example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(time.Second))},
			{"OrderId": 112, "Domain": "www.example.com", "Sans": "www.example.com", "Status": "CHECKING", "BuyDate": ms(t0.Add(2 * time.Second))},
		}}))},
		"DescribeCertificateState": {ok(jsonBody(map[string]any{"Type": "process", "Domain": "www.example.com"}))},
	})
	s, clk := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	creating := t0
	var asked []string
	req := Request{CSRPEM: simpleCSR(t, key, "www.example.com"), State: OrderState{Creating: &creating},
		OrderTaken: func(_ context.Context, id string) (bool, error) {
			asked = append(asked, id)
			return id == "111", nil
		}}
	clk.add(5 * time.Second)
	if _, err := s.Sign(context.Background(), req, store); err != nil {
		t.Fatal(err)
	}
	if got := store.last(); got.OrderID != "112" {
		t.Fatalf("recovered order %q, want 112 (111 is another request's); asked about %v", got.OrderID, asked)
	}
	if p := r.params("DescribeCertificateState"); len(p) != 1 || p[0].Get("OrderId") != "112" {
		t.Fatalf("looked at %v", p)
	}
	if r.count("CreateCertificateWithCsrRequest") != 0 {
		t.Fatal("ordered again")
	}
}
