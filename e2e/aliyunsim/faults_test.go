package aliyunsim

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestThrottling(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ThrottleQPS = 1 })
	expectOK(t, e.c.call(VersionCAS2020, "DescribePackageState"))
	r := e.c.call(VersionCAS2020, "DescribePackageState")
	expectErr(t, r, 400, "Throttling.User")
	if r.str("Message") != "Request was denied due to user flow control." {
		t.Fatalf("message: %s", r.str("Message"))
	}
	// Unauthenticated calls do not spend tokens.
	bad := *e.c
	bad.secret = "wrong"
	expectErr(t, bad.call(VersionCAS2020, "DescribePackageState"), 400, "SignatureDoesNotMatch")
	if st := e.sim.State(); st.Throttled != 1 || st.Errors["Throttling.User"] != 1 {
		t.Fatalf("state: throttled %d errors %v", st.Throttled, st.Errors)
	}
	e.sim.SetThrottleQPS(0)
	expectOK(t, e.c.call(VersionCAS2020, "DescribePackageState"))
	// At 2 QPS, a burst of 2 passes and the 3rd is throttled (a token
	// comes back only after 500ms, far more than three calls take even
	// under the race detector).
	e.sim.SetThrottleQPS(2)
	throttled := 0
	for i := 0; i < 3; i++ {
		if r := e.c.call(VersionCAS2020, "DescribePackageState"); r.code() == "Throttling.User" {
			throttled++
		}
	}
	if throttled != 1 {
		t.Fatalf("throttled %d of 3 at 2 QPS", throttled)
	}
}

func TestFaults(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Packages = map[string]Package{DefaultProduct: {Quota: 1000}}
		c.FaultRate = 1
		c.FaultHang = 300 * time.Millisecond
	})
	csr := makeCSR(t, testKey(), "faults.example.com", nil, nil)
	hc := &http.Client{Timeout: 150 * time.Millisecond}
	const n = 60
	var status500, status503, timeouts int
	for i := 0; i < n; i++ {
		p := e.c.signV1("POST", map[string]string{"Version": VersionCAS2020, "Action": "CreateCertificateWithCsrRequest", "Csr": csr,
			"Username": "Ops", "Phone": "13800000000", "Email": "ops@example.com", "ValidateType": "DNS"})
		form := url.Values{}
		for k, v := range p {
			form.Set(k, v)
		}
		resp, err := hc.Post(e.url+"/", "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			timeouts++
			continue
		}
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		resp.Body.Close()
		switch {
		case resp.StatusCode == 500 && body["Code"] == "InternalError":
			status500++
		case resp.StatusCode == 503 && body["Code"] == "ServiceUnavailable":
			status503++
		default:
			t.Fatalf("fault rate 1 answered %d %v", resp.StatusCode, body)
		}
	}
	st := e.sim.State()
	used := st.Packages[DefaultProduct].Used
	t.Logf("500: %d, 503: %d, timeouts: %d, orders created behind a failed answer: %d", status500, status503, timeouts, used)
	if status500 == 0 || status503 == 0 || timeouts == 0 {
		t.Fatal("every kind of fault should occur")
	}
	// Some creates took effect although every answer failed, some did not.
	if used == 0 || used == n || len(st.Orders) != used || st.Faults != n {
		t.Fatalf("used %d, orders %d, faults %d of %d", used, len(st.Orders), st.Faults, n)
	}
	// The lost orders are there to be found.
	e.sim.SetFaultRate(0)
	r := e.c.call(VersionCAS2020, "ListUserCertificateOrder", "Keyword", "faults.example.com", "Status", "CHECKING")
	if r.num("TotalCount") != int64(used) {
		t.Fatalf("listing finds %d of %d lost orders", r.num("TotalCount"), used)
	}
	// /_sim/ is never faulty.
	e.sim.SetFaultRate(1)
	if resp, err := http.Get(e.url + "/_sim/state"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("/_sim/state under faults: %v", err)
	}
}

func TestLatency(t *testing.T) {
	e := newEnv(t, nil)
	e.sim.SetLatency(150 * time.Millisecond)
	start := time.Now()
	expectOK(t, e.c.call(VersionCAS2020, "DescribePackageState"))
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("call took %v", d)
	}
}
