package aliyunsim

import (
	"bytes"
	"encoding/json"
	"flag"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func getSim(t *testing.T, url string) (int, []byte) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func TestSimState(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DVInstances = 2; c.Validation = ValidationAuto })
	id := e.order2020(makeCSR(t, testKey(), "state.example.com", nil, nil))
	e.addTXT("example.com", "rec", "v")
	expectErr(t, e.c.call(VersionCAS2020, "DescribeCertificateState", "OrderId", "1"), 404, "NotFoundOrder")

	status, body := getSim(t, e.url+"/_sim/state")
	if status != 200 {
		t.Fatalf("state: %d", status)
	}
	var st State
	if err := json.Unmarshal(body, &st); err != nil {
		t.Fatal(err)
	}
	for _, key := range []string{`"calls"`, `"throttled"`, `"faults"`, `"zones"`, `"orders"`, `"records"`, `"packages"`, `"dvInstances"`, `"userCertificates"`} {
		if !bytes.Contains(body, []byte(key)) {
			t.Errorf("state has no %s", key)
		}
	}
	if st.Calls["CreateCertificateWithCsrRequest"] != 1 || st.Calls["AddDomainRecord"] != 1 || st.Errors["NotFoundOrder"] != 1 {
		t.Fatalf("calls %v errors %v", st.Calls, st.Errors)
	}
	if len(st.Orders) != 1 || st.Orders[0].API != VersionCAS2020 || st.Orders[0].Status != "certificate" ||
		st.Orders[0].Domains[0] != "state.example.com" || st.Orders[0].Created.IsZero() || st.Orders[0].ID == "" || !st.Orders[0].CSR {
		t.Fatalf("orders: %+v (id %d)", st.Orders, id)
	}
	if len(st.Records) != 1 || st.Records[0].RR != "rec" || st.Records[0].Zone != "example.com" || st.Records[0].Type != "TXT" {
		t.Fatalf("records: %+v", st.Records)
	}
	if p := st.Packages["digicert-free-1-free"]; p.Total != 5 || p.Used != 1 || p.Issued != 1 {
		t.Fatalf("packages: %+v", st.Packages)
	}
	if len(st.DVInstances) != 2 || st.DVInstances[0].Status != "PAYED" || len(st.UserCertificates) != 1 || len(st.Zones) != 1 {
		t.Fatalf("state: %+v", st)
	}

	if status, body := getSim(t, e.url+"/_sim/ca.pem"); status != 200 || !bytes.Equal(body, e.sim.RootPEM()) {
		t.Fatal("ca.pem differs from RootPEM")
	}
	if status, body := getSim(t, e.url+"/_sim/intermediate.pem"); status != 200 || !bytes.Equal(body, e.sim.IntermediatePEM()) {
		t.Fatal("intermediate.pem")
	}
	if status, _ := getSim(t, e.url+"/_sim/nope"); status != 404 {
		t.Fatalf("unknown endpoint: %d", status)
	}
}

func TestSimConfig(t *testing.T) {
	e := newEnv(t, nil)
	post := func(body string) (int, RuntimeConfig) {
		t.Helper()
		resp, err := http.Post(e.url+"/_sim/config", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var rc RuntimeConfig
		_ = json.NewDecoder(resp.Body).Decode(&rc)
		return resp.StatusCode, rc
	}
	status, rc := post(`{"faultRate":0.25,"throttleQPS":7,"latency":"5ms","validationDelay":"1m","issueDelay":"2m","faultHang":"3s","validation":"auto","strictCN":true,"certCRLF":true}`)
	if status != 200 || *rc.FaultRate != 0.25 || *rc.ThrottleQPS != 7 || *rc.Latency != "5ms" || *rc.ValidationDelay != "1m0s" ||
		*rc.IssueDelay != "2m0s" || *rc.FaultHang != "3s" || *rc.Validation != "auto" || !*rc.StrictCN || !*rc.CertCRLF {
		t.Fatalf("config: %d %+v", status, rc)
	}
	// Only the given fields change.
	if status, rc = post(`{"faultRate":0}`); status != 200 || *rc.FaultRate != 0 || *rc.ThrottleQPS != 7 {
		t.Fatalf("partial: %+v", rc)
	}
	for _, bad := range []string{`{"faultRate":2}`, `{"throttleQPS":-1}`, `{"latency":"soon"}`, `{"validation":"manual"}`, `{"faultHang":"0s"}`, `{"unknown":1}`, `not json`} {
		if status, _ := post(bad); status != 400 {
			t.Errorf("%s: %d", bad, status)
		}
	}
	if status, rc = post(`{}`); status != 200 || *rc.FaultRate != 0 || *rc.Validation != "auto" {
		t.Fatalf("a refused change applied part of itself: %+v", rc)
	}
	status, body := getSim(t, e.url+"/_sim/config")
	if status != 200 || !strings.Contains(string(body), `"throttleQPS": 7`) {
		t.Fatalf("GET config: %s", body)
	}
	// The new settings are live: StrictCN refuses a CN-less CSR now.
	e.sim.SetThrottleQPS(0)
	r := e.c.call(VersionCAS2020, "CreateCertificateWithCsrRequest", append([]string{"Csr", makeCSR(t, testKey(), "", []string{"a.example.com"}, nil)}, contactArgs()...)...)
	expectErr(t, r, 400, "InvalidParameter.CommonName")
}

func TestSimFiles(t *testing.T) {
	e := newEnv(t, nil)
	u := e.url + "/_sim/files?url=www.example.com/.well-known/pki-validation/fileauth.txt"
	if r := e.c.do(mustRequest(t, "PUT", u, "content")); r.Status != 204 {
		t.Fatalf("PUT: %d", r.Status)
	}
	if status, body := getSim(t, u); status != 200 || string(body) != "content" {
		t.Fatalf("GET: %d %s", status, body)
	}
	if st := e.sim.State(); st.Files["www.example.com/.well-known/pki-validation/fileauth.txt"] != "content" {
		t.Fatalf("files: %v", st.Files)
	}
	if r := e.c.do(mustRequest(t, "DELETE", u, "")); r.Status != 204 {
		t.Fatalf("DELETE: %d", r.Status)
	}
	if status, _ := getSim(t, u); status != 404 {
		t.Fatalf("after DELETE: %d", status)
	}
	if status, _ := getSim(t, e.url+"/_sim/files?url=nohost"); status != 400 {
		t.Fatalf("bad url: %d", status)
	}
}

func TestCADir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ca")
	cfg := Config{AccessKeys: map[string]string{"a": "b"}, CADir: dir}
	s1, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s1.Close()
	for _, f := range caFiles {
		if _, err := os.Stat(filepath.Join(dir, f)); err != nil {
			t.Fatalf("%s not written: %v", f, err)
		}
	}
	s2, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if !bytes.Equal(s1.RootPEM(), s2.RootPEM()) {
		t.Fatal("the CA was not loaded from the directory")
	}
	// A leaf from the loaded CA verifies against the saved root.
	leaf, err := s2.ca.issue(testKey().Public(), "x.example.com", []string{"x.example.com"}, nil, time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	verifyChain(t, string(pemBlock("CERTIFICATE", leaf.Raw))+string(s2.IntermediatePEM()), s1.RootPEM(), "x.example.com")

	// A directory with only some of the files is an error, as are keys that do not match.
	if err := os.Remove(filepath.Join(dir, "ca-key.pem")); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil {
		t.Fatal("partial CA dir accepted")
	}
	other := filepath.Join(t.TempDir(), "other")
	s3, err := New(Config{AccessKeys: map[string]string{"a": "b"}, CADir: other})
	if err != nil {
		t.Fatal(err)
	}
	s3.Close()
	data, _ := os.ReadFile(filepath.Join(other, "ca-key.pem"))
	if err := os.WriteFile(filepath.Join(dir, "ca-key.pem"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "does not match") {
		t.Fatalf("mismatched key accepted: %v", err)
	}
}

func TestSerialsUnique(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Validation = ValidationAuto
		c.Packages = map[string]Package{DefaultProduct: {Quota: 20}}
	})
	seen := map[string]bool{}
	csr := makeCSR(t, testKey(), "serial.example.com", nil, nil)
	for i := 0; i < 20; i++ {
		e.state2020(e.order2020(csr))
	}
	for _, o := range e.sim.State().Orders {
		if o.Serial == "" || seen[o.Serial] {
			t.Fatalf("serial %q repeated or empty", o.Serial)
		}
		seen[o.Serial] = true
	}
}

func TestBindFlags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse([]string{"--zone", "example.com", "--dv-instances", "3"}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Config(true); err == nil {
		t.Fatal("Config(true) without --access-key")
	}
	cfg, err := f.Config(false)
	if err != nil || cfg.AccessKeys != nil || cfg.Packages != nil || cfg.DVInstances != 3 || cfg.Zones[0] != "example.com" || cfg.Validation != ValidationAuto {
		t.Fatalf("Config(false): %+v %v", cfg, err)
	}
}

// The simulator is a plain http.Handler too.
func TestMountedHandler(t *testing.T) {
	s, err := New(Config{AccessKeys: map[string]string{testID: testSecret}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := &client{t: t, base: srv.URL, id: testID, secret: testSecret, now: time.Now, hc: srv.Client()}
	if r := c.call(VersionCAS2020, "DescribePackageState"); r.num("TotalCount") != 20 {
		t.Fatalf("default package: %s", r.Raw)
	}
	if s.URL() != "" || s.DNSAddr() != "" {
		t.Fatal("URL/DNSAddr of a mounted simulator")
	}
}
