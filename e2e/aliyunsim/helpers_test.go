package aliyunsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
)

const (
	testID     = "testid"
	testSecret = "testsecret"
)

// env is a running simulator with a fake clock and a test client.
type env struct {
	t     *testing.T
	sim   *Simulator
	clock *Clock
	url   string
	c     *client
}

// newEnv starts a simulator on a loopback port; mutate adjusts the config first.
func newEnv(t *testing.T, mutate func(*Config)) *env {
	t.Helper()
	cfg := Config{
		AccessKeys: map[string]string{testID: testSecret},
		Zones:      []string{"example.com"},
		Packages: map[string]Package{
			"digicert-free-1-free":     {Quota: 5},
			"globalsign-dv-w-advanced": {Quota: 5, MaxNames: 5},
			"symantec-dv-1-starter":    {Quota: 5},
		},
		Validation: ValidationDNS,
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	clk := NewClock(time.Now().UTC().Truncate(time.Second))
	sim.now = clk.Now // before Start: no request can race with it
	u, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	e := &env{t: t, sim: sim, clock: clk, url: u}
	e.c = &client{t: t, base: u, id: testID, secret: testSecret, now: clk.Now, hc: &http.Client{Timeout: 20 * time.Second}}
	return e
}

// client is an independent test client: it signs requests itself (v1 like the classic SDK,
// v3 like darabonba-openapi), without the simulator's code.
type client struct {
	t      *testing.T
	base   string
	id     string
	secret string
	token  string
	now    func() time.Time
	hc     *http.Client
}

type result struct {
	Status int
	Body   map[string]any
	Raw    []byte
	Header http.Header
}

func (r result) str(key string) string {
	v, _ := r.Body[key].(string)
	return v
}

func (r result) num(key string) int64 {
	switch v := r.Body[key].(type) {
	case float64:
		return int64(v)
	case string:
		var n int64
		fmt.Sscan(v, &n)
		return n
	}
	return 0
}

func (r result) code() string { return r.str("Code") }

// sdkEncode is the classic SDK's encoding: url.QueryEscape, then + → %20, * → %2A, %7E → ~.
func sdkEncode(s string) string {
	s = url.QueryEscape(s)
	return strings.NewReplacer("+", "%20", "*", "%2A", "%7E", "~").Replace(s)
}

// signV1 adds the common parameters and the v1 signature to p.
func (c *client) signV1(method string, p map[string]string) map[string]string {
	out := map[string]string{
		"Format":           "JSON",
		"AccessKeyId":      c.id,
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureVersion": "1.0",
		"SignatureNonce":   randHex(16),
		"Timestamp":        c.now().UTC().Format("2006-01-02T15:04:05Z"),
	}
	if c.token != "" {
		out["SecurityToken"] = c.token
	}
	for k, v := range p {
		out[k] = v
	}
	out["Signature"] = testV1Signature(method, out, c.secret)
	return out
}

func testV1Signature(method string, p map[string]string, secret string) string {
	keys := make([]string, 0, len(p))
	for k := range p {
		if k != "Signature" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var pairs []string
	for _, k := range keys {
		pairs = append(pairs, sdkEncode(k)+"="+sdkEncode(p[k]))
	}
	sts := method + "&%2F&" + sdkEncode(strings.Join(pairs, "&"))
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(sts))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

func randHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// call makes a signed v1 POST (all parameters in the form body) and decodes the JSON answer.
func (c *client) call(version, action string, kv ...string) result {
	c.t.Helper()
	p := map[string]string{"Version": version, "Action": action}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	return c.send(http.MethodPost, c.signV1(http.MethodPost, p))
}

// send posts (or gets) already-built parameters.
func (c *client) send(method string, p map[string]string) result {
	c.t.Helper()
	form := url.Values{}
	for k, v := range p {
		form.Set(k, v)
	}
	var req *http.Request
	var err error
	if method == http.MethodGet {
		req, err = http.NewRequest(method, c.base+"/?"+form.Encode(), nil)
	} else {
		req, err = http.NewRequest(method, c.base+"/", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	if err != nil {
		c.t.Fatal(err)
	}
	return c.do(req)
}

func (c *client) do(req *http.Request) result {
	c.t.Helper()
	resp, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatalf("%s: %v", req.URL, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	r := result{Status: resp.StatusCode, Raw: raw, Header: resp.Header}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			c.t.Fatalf("answer is not JSON: %v: %s", err, raw)
		}
		if r.str("RequestId") == "" {
			c.t.Fatalf("answer without RequestId: %s", raw)
		}
	}
	return r
}

// v3Request builds a request signed with ACS3-HMAC-SHA256 the way darabonba-openapi does.
func (c *client) v3Request(version, action string, query, form map[string]string) *http.Request {
	c.t.Helper()
	q := url.Values{}
	for k, v := range query {
		q.Set(k, v)
	}
	f := url.Values{}
	for k, v := range form {
		f.Set(k, v)
	}
	body := f.Encode()
	target := c.base + "/"
	if len(q) > 0 {
		target += "?" + q.Encode()
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	h := map[string]string{
		"host":                  req.URL.Host,
		"content-type":          "application/x-www-form-urlencoded",
		"x-acs-action":          action,
		"x-acs-version":         version,
		"x-acs-date":            c.now().UTC().Format("2006-01-02T15:04:05Z"),
		"x-acs-signature-nonce": randHex(16),
		"x-acs-content-sha256":  hex.EncodeToString(sum[:]),
	}
	if c.token != "" {
		h["x-acs-security-token"] = c.token
	}
	for k, v := range h {
		if k != "host" {
			req.Header.Set(k, v)
		}
	}
	req.Header.Set("Authorization", testV3Authorization(http.MethodPost, query, h, body, c.id, c.secret))
	return req
}

func testV3Authorization(method string, query, headers map[string]string, body, id, secret string) string {
	var qk []string
	for k := range query {
		qk = append(qk, k)
	}
	sort.Strings(qk)
	var qs []string
	for _, k := range qk {
		qs = append(qs, sdkEncode(k)+"="+sdkEncode(query[k]))
	}
	var hk []string
	for k := range headers {
		hk = append(hk, k)
	}
	sort.Strings(hk)
	var canonHeaders string
	for _, k := range hk {
		canonHeaders += k + ":" + strings.TrimSpace(headers[k]) + "\n"
	}
	sum := sha256.Sum256([]byte(body))
	canon := method + "\n/\n" + strings.Join(qs, "&") + "\n" + canonHeaders + "\n" + strings.Join(hk, ";") + "\n" + hex.EncodeToString(sum[:])
	ch := sha256.Sum256([]byte(canon))
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte("ACS3-HMAC-SHA256\n" + hex.EncodeToString(ch[:])))
	return "ACS3-HMAC-SHA256 Credential=" + id + ",SignedHeaders=" + strings.Join(hk, ";") + ",Signature=" + hex.EncodeToString(mac.Sum(nil))
}

// expectOK fails unless r is a 200.
func expectOK(t *testing.T, r result) {
	t.Helper()
	if r.Status != http.StatusOK {
		t.Fatalf("want 200, got %d: %s", r.Status, r.Raw)
	}
}

// expectErr checks an error answer's status, code and shape.
func expectErr(t *testing.T, r result, status int, code string) {
	t.Helper()
	if r.Status != status || r.code() != code {
		t.Fatalf("want %d %s, got %d: %s", status, code, r.Status, r.Raw)
	}
	for _, k := range []string{"RequestId", "HostId", "Code", "Message", "Recommend"} {
		if r.str(k) == "" {
			t.Fatalf("error answer without %s: %s", k, r.Raw)
		}
	}
}

// Key and CSR makers.

func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var (
	sharedKeyOnce sync.Once
	sharedKey     *ecdsa.PrivateKey
)

// testKey is one P-256 key shared by the tests that do not care about the key.
func testKey() *ecdsa.PrivateKey {
	sharedKeyOnce.Do(func() {
		sharedKey, _ = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	})
	return sharedKey
}

func makeCSR(t testing.TB, key crypto.Signer, cn string, dns []string, ips []net.IP) string {
	t.Helper()
	return string(testcsr.PEM(t, testcsr.Spec{Key: key, CommonName: cn, DNSNames: dns, IPAddresses: ips}))
}

// verifyChain checks that chainPEM (leaf first) verifies to rootPEM for dnsName.
func verifyChain(t *testing.T, chainPEM string, rootPEM []byte, dnsName string) *x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	rest := []byte(chainPEM)
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		certs = append(certs, c)
	}
	if len(certs) != 2 {
		t.Fatalf("want leaf + intermediate, got %d certificates", len(certs))
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(rootPEM) {
		t.Fatal("root PEM does not parse")
	}
	inter := x509.NewCertPool()
	inter.AddCert(certs[1])
	if _, err := certs[0].Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: dnsName, CurrentTime: certs[0].NotBefore.Add(time.Hour)}); err != nil {
		t.Fatalf("chain does not verify: %v", err)
	}
	return certs[0]
}

// addTXT creates the validation record for domain through the Alidns API.
func (e *env) addTXT(zone, rr, value string) string {
	e.t.Helper()
	r := e.c.call(VersionAlidns, "AddDomainRecord", "DomainName", zone, "RR", rr, "Type", "TXT", "Value", value)
	expectOK(e.t, r)
	return r.str("RecordId")
}

// order2020 places a CSR order and returns its id.
func (e *env) order2020(csr string, extra ...string) int64 {
	e.t.Helper()
	kv := append([]string{"Csr", csr, "Username", "Ops", "Phone", "13800000000", "Email", "ops@example.com", "ValidateType", "DNS"}, extra...)
	r := e.c.call(VersionCAS2020, "CreateCertificateWithCsrRequest", kv...)
	expectOK(e.t, r)
	if r.num("OrderId") <= 0 {
		e.t.Fatalf("no OrderId: %s", r.Raw)
	}
	return r.num("OrderId")
}

func (e *env) state2020(id int64) result {
	e.t.Helper()
	r := e.c.call(VersionCAS2020, "DescribeCertificateState", "OrderId", fmt.Sprint(id))
	expectOK(e.t, r)
	return r
}

func mustRequest(t *testing.T, method, url, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return req
}
