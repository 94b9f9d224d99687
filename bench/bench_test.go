package bench

import (
	"context"
	"encoding/xml"
	"math"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

func TestStatOf(t *testing.T) {
	s := statOf(3, 1, 2, 10)
	if s.Min != 1 || s.Max != 10 || s.Median != 2.5 {
		t.Errorf("statOf = %+v", s)
	}
	if s.Values[0] != 3 {
		t.Errorf("values reordered: %v", s.Values)
	}
	if e := statOf(); e.Median != 0 {
		t.Errorf("empty stat %+v", e)
	}
}

func TestPercentile(t *testing.T) {
	v := make([]float64, 200)
	for i := range v {
		v[i] = float64(i + 1)
	}
	for p, want := range map[float64]float64{50: 100, 90: 180, 99: 198, 100: 200, 0.1: 1} {
		if got := percentile(v, p); got != want {
			t.Errorf("p%g = %g, want %g", p, got, want)
		}
	}
	if !math.IsNaN(percentile(nil, 50)) {
		t.Error("percentile of nothing is not NaN")
	}
}

func TestParseMetrics(t *testing.T) {
	in := `# HELP rest_client_requests_total Number of HTTP requests
# TYPE rest_client_requests_total counter
rest_client_requests_total{code="200",host="127.0.0.1:1",method="GET"} 12
rest_client_requests_total{code="200",host="127.0.0.1:1",method="PATCH"} 5
rest_client_requests_total{code="409",host="127.0.0.1:1",method="PATCH"} 2
rest_client_requests_total{code="201",host="127.0.0.1:1",method="POST"} 3
aliyun_cas_issuer_api_calls_total{action="DescribeCertificateState",outcome="ok",product="cas"} 7
weird_metric{a="x\"y",b="z"} 1.5e+01 1700000000
plain 4
`
	samples, err := parseMetrics(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(samples) != 7 {
		t.Fatalf("%d samples", len(samples))
	}
	if s := samples[5]; s.Labels["a"] != `x"y` || s.Labels["b"] != "z" || s.Value != 15 {
		t.Errorf("escaped labels: %+v", s)
	}
	m := IssuerMetrics{Requests: map[string]float64{}, Calls: map[string]float64{}}
	for _, s := range samples {
		if s.Name == "rest_client_requests_total" {
			m.Requests[s.Labels["method"]] += s.Value
		}
	}
	if m.Writes() != 10 {
		t.Errorf("writes %g, want 10", m.Writes())
	}
}

func TestProcParsing(t *testing.T) {
	status := "Name:\tx\nVmHWM:\t   40960 kB\nVmRSS:\t   20480 kB\n"
	if v, err := statusKB(status, "VmHWM"); err != nil || v != 40960*1024 {
		t.Errorf("VmHWM %d %v", v, err)
	}
	if _, err := statusKB(status, "VmSwap"); err == nil {
		t.Error("missing key: no error")
	}
	stat := "1234 (a) b (c)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 12 0 100 0 0"
	if d, err := statCPU(stat); err != nil || d != 3*time.Second {
		t.Errorf("cpu %v %v", d, err)
	}
}

func TestResourceOf(t *testing.T) {
	for path, want := range map[string]string{
		"/apis/cert-manager.io/v1/namespaces/ns/certificaterequests/x/status":  "certificaterequests/status",
		"/apis/cert-manager.io/v1/namespaces/ns/certificaterequests/x":         "certificaterequests",
		"/apis/events.k8s.io/v1/namespaces/ns/events":                          "events",
		"/api/v1/namespaces/ns/secrets/s":                                      "secrets",
		"/api/v1/namespaces/ns":                                                "namespaces",
		"/apis/aliyun-cas-issuer.io/v1alpha1/aliyuncasclusterissuers/a/status": "aliyuncasclusterissuers/status",
	} {
		if got := resourceOf(path); got != want {
			t.Errorf("resourceOf(%s) = %q, want %q", path, got, want)
		}
	}
}

func TestCallRate(t *testing.T) {
	t0 := time.Unix(0, 0)
	var calls []simCall
	for i := range 11 {
		calls = append(calls, simCall{At: t0.Add(time.Duration(i) * 200 * time.Millisecond)})
	}
	mean, peak := callRate(calls)
	if math.Abs(mean-5) > 1e-9 || peak != 5 {
		t.Errorf("rate %g peak %d, want 5 and 5", mean, peak)
	}
}

func TestSimLogFormat(t *testing.T) {
	var l simCallLog
	l.logf("aliyunsim: %s %s %s ak=%s -> %d %s (%s)", "POST", "2020-04-07", "DescribeCertificateState", "k", 400, "Throttling.User", time.Millisecond)
	l.logf("aliyunsim: issuing for order %s: %v", "1", "x")
	before := time.Now()
	l.logf("aliyunsim: %s %s %s ak=%s -> %d %s (%s)", "POST", "2020-04-07", "ListInstances", "k", 200, "", 2*time.Second)
	c := l.since(0)
	if len(c) != 2 || c[0].Action != "DescribeCertificateState" || c[0].Status != 400 || !c[0].throttled() {
		t.Fatalf("calls %+v", c)
	}
	// Timed when the call came, not when its answer was logged.
	if c[1].At.After(before.Add(-time.Second)) {
		t.Errorf("a call answered in 2s is timed at %v, its answer at about %v", c[1].At, before)
	}
	// Calls logged out of order are counted in the order they came.
	t0 := time.Unix(100, 0)
	mean, peak := callRate([]simCall{{At: t0.Add(900 * time.Millisecond)}, {At: t0}, {At: t0.Add(1800 * time.Millisecond)}})
	if peak != 2 || math.Abs(mean-1/0.9) > 1e-9 {
		t.Errorf("rate %g peak %d, want %g and 2", mean, peak, 1/0.9)
	}
}

func TestReportAndSVG(t *testing.T) {
	a := &Throughput{N: 3, Rounds: 2, InstanceRounds: 1, Aliyun: &IssuerThroughput{}, Instance: &IssuerThroughput{}, CA: &IssuerThroughput{}}
	a.Aliyun.add(BatchResult{Start: time.Unix(0, 0), End: time.Unix(2, 0), Latencies: []float64{0.5, 1, 2}})
	a.Aliyun.add(BatchResult{Start: time.Unix(0, 0), End: time.Unix(3, 0), Latencies: []float64{0.7, 1.5, 3}})
	a.Instance.add(BatchResult{Start: time.Unix(0, 0), End: time.Unix(4, 0), Latencies: []float64{1, 2, 4}})
	a.CA.add(BatchResult{Start: time.Unix(0, 0), End: time.Unix(1, 0), Latencies: []float64{0.2, 0.5, 1}})
	a.CA.add(BatchResult{Start: time.Unix(0, 0), End: time.Unix(1, 0), Latencies: []float64{0.3, 0.6, 1}})
	a.RatioP50 = a.Aliyun.P50.Median / a.CA.P50.Median
	a.InstanceRatioP50 = a.Instance.P50.Median / a.CA.P50.Median
	a.Cost = CostStats{CallsPerCert: statOf(2), WritesPerCert: statOf(3)}
	a.InstanceCost = CostStats{CallsPerCert: statOf(5.5), WritesPerCert: statOf(3)}
	if a.Aliyun.Wall.Median != 2.5 || a.Aliyun.P50.Median != 1.25 {
		t.Errorf("aliyun %+v", a.Aliyun)
	}
	cost := func(api string, delay, calls float64) *Cost {
		return &Cost{OrderAPI: api, N: 2, Rounds: 1, ValidationDelaySeconds: delay,
			CostStats: CostStats{CallsPerCert: statOf(calls), WritesPerCert: statOf(3),
				CallsByAction: map[string]Stat{"ApplyCertificate": statOf(1), "GetInstanceDetail": statOf(calls - 1)}}}
	}
	r := &Results{A: a, B: []*Cost{
		cost("CSR", 0, 2), cost("CSR", 60, 7), cost("Instance", 0, 5.5), cost("Instance", 60, 9),
	}}
	r.B[0].WritesPerCert = statOf(5)
	r.Settings.V2Instances, r.Settings.RecordsDelaySeconds = 12, 0.2
	r.Targets = targets(r)
	want := map[string]string{"met": "", "missed": ""}
	for _, tg := range r.Targets {
		want[tg.Status] += tg.Name + "; "
	}
	for status, names := range map[string][]string{
		"missed": {"orderAPI CSR, validation delay 60s", "orderAPI Instance, validation delay 60s", "writes"},
		"met":    {"orderAPI CSR, validation delay 0s", "orderAPI Instance, validation delay 0s"},
	} {
		for _, n := range names {
			if !strings.Contains(want[status], n) {
				t.Errorf("%q not %s: %+v", n, status, r.Targets)
			}
		}
	}
	// The size-dependent goals: ≤ 1.0 and ≤ 150 MiB at N=5000.
	big := *a
	big.N, big.RatioP50, big.Resources.PeakRSSMiB = 5000, 0.9, 151
	if tg := ratioTarget(&big, "CSR", big.Aliyun, big.RatioP50, 1); tg.Status != "met" {
		t.Errorf("ratio 0.9 at N=5000: %+v", tg)
	}
	if tg := ratioTarget(&big, "CSR", big.Aliyun, 1.1, 1); tg.Status != "missed" {
		t.Errorf("ratio 1.1 at N=5000: %+v", tg)
	}
	if tg := rssTarget(&big); tg.Status != "missed" {
		t.Errorf("151 MiB at N=5000: %+v", tg)
	}
	big.N, big.Resources.PeakRSSMiB = 1000, 79
	if tg := rssTarget(&big); tg.Status != "met" {
		t.Errorf("79 MiB at N=1000: %+v", tg)
	}
	md := markdown(r)
	for _, line := range []string{
		"| cert-manager CA issuer | 2 | 1 | 0.55 (0.5–0.6) |",
		"| aliyun-cas-issuer, orderAPI Instance (simulator, no validation delay) | 1 | 4 | 2 | 4 | 4 | 5.5 | 3 |",
		"| Instance | 0s | 1 | 5.5 | GetInstanceDetail 4.5, ApplyCertificate 1 | 3 |",
		"2 rounds of the CSR issuer and of the CA issuer, 1 of the Instance issuer (fewer",
		"12 V2.0 subscription instances",
		"records 0.2s after the submission",
		"orderAPI Instance 3.64, 0",
	} {
		if !strings.Contains(md, line) {
			t.Errorf("markdown lacks %q:\n%s", line, md)
		}
	}
	if _, err := resultsJSON(r); err != nil {
		t.Fatal(err)
	}
	svg := latencySVG(a)
	dec := xml.NewDecoder(strings.NewReader(string(svg)))
	for {
		if _, err := dec.Token(); err != nil {
			if err.Error() != "EOF" {
				t.Fatalf("SVG is not well-formed XML: %v", err)
			}
			break
		}
	}
	if n := strings.Count(string(svg), "<polyline"); n != 5 {
		t.Errorf("%d lines, want 5 (2 CSR, 1 Instance, 2 CA rounds)", n)
	}
	if !strings.Contains(string(svg), "Instance (simulator), p50 2s") {
		t.Errorf("no Instance legend:\n%s", svg)
	}
}

func TestThrottleReport(t *testing.T) {
	c := func(api string, rate, peak, throttled float64) *Throttle {
		return &Throttle{OrderAPI: api, N: 100, SimQPS: 5, ClientRate: 5, ClientBurst: 10, Issued: 100,
			Wall: statOf(50), CallRate: statOf(rate), Peak1s: statOf(peak), AcceptedRate: statOf(rate),
			CostStats: CostStats{ThrottledPerCert: statOf(throttled), CallsPerCert: statOf(2),
				CallsByAction: map[string]Stat{"DescribeCertificateState": statOf(1)}}}
	}
	r := &Results{C: []*Throttle{c("CSR", 4.5, 6, 0.01), c("Instance", 3.5, 7, 0.2)}}
	got := map[string]string{}
	for _, tg := range throttleTargets(r.C[0]) {
		got[tg.Name] = tg.Status
	}
	for _, tg := range throttleTargets(r.C[1]) {
		got[tg.Name] = tg.Status
	}
	for name, want := range map[string]string{
		"Throttling (N=100, simulator 5 calls/s), orderAPI CSR: share of the allowed rate reaching the simulator":      "met",
		"Throttling (N=100, simulator 5 calls/s), orderAPI CSR: throttled answers per certificate":                     "met",
		"Throttling (N=100, simulator 5 calls/s), orderAPI CSR: calls in the busiest second":                           "met",
		"Throttling (N=100, simulator 5 calls/s), orderAPI Instance: share of the allowed rate reaching the simulator": "missed",
		"Throttling (N=100, simulator 5 calls/s), orderAPI Instance: throttled answers per certificate":                "missed",
		"Throttling (N=100, simulator 5 calls/s), orderAPI Instance: calls in the busiest second":                      "missed",
	} {
		if got[name] != want {
			t.Errorf("%s: %q, want %q", name, got[name], want)
		}
	}
	learning := c("CSR", 4, 6, 0.1)
	learning.ClientRate, learning.ClientBurst, learning.Learning = 10, 10, true
	r.C = append(r.C, learning)
	if n := len(targets(r)); n != 7 {
		t.Errorf("%d targets, want 6 for scenario C's two rows at the default limit and the writes target", n)
	}
	md := markdown(r)
	for _, line := range []string{
		"| CSR | 10, 10 | 100 | 50 | 4 | 80 % | 6 | 4 | 0.1 | 2 | DescribeCertificateState 1 |",
		"| CSR | 5, 10 | 100 | 50 | 4.5 | 90 % | 6 | 4.5 | 0.01 | 2 | DescribeCertificateState 1 |",
		"| Instance | 5, 10 | 100 | 50 | 3.5 | 70 % | 7 | 3.5 | 0.2 | 2 | DescribeCertificateState 1 |",
	} {
		if !strings.Contains(md, line) {
			t.Errorf("markdown lacks %q:\n%s", line, md)
		}
	}
}

func TestCallsLimit(t *testing.T) {
	for _, c := range []struct {
		api   string
		delay float64
		want  float64
	}{{"CSR", 0, 2}, {"CSR", 60, 6}, {"Instance", 0, 6}, {"Instance", 60, 8}} {
		if got := callsLimit(c.api, c.delay); got != c.want {
			t.Errorf("callsLimit(%s, %g) = %g, want %g", c.api, c.delay, got, c.want)
		}
	}
}

func TestInstancesNeeded(t *testing.T) {
	// 200 Certificates in one Instance round of A, 20 in each of 3+1
	// rounds of B: 280, and a tenth more.
	if got := instancesNeeded(Config{N: 200, InstanceRounds: 1, Rounds: 3, CostN: 20, CostDelayedRounds: 1}); got != 309 {
		t.Errorf("instancesNeeded = %d, want 309", got)
	}
	// Scenario C binds an instance per Certificate too; a partial run
	// sells only what its scenarios use.
	if got := instancesNeeded(Config{N: 200, InstanceRounds: 1, Rounds: 3, CostN: 20, CostDelayedRounds: 1, ThrottleN: 100}); got != 419 {
		t.Errorf("instancesNeeded with scenario C = %d, want 419", got)
	}
	if got := instancesNeeded(Config{N: 200, InstanceRounds: 1, Rounds: 3, CostN: 20, CostDelayedRounds: 1, ThrottleN: 100, Scenarios: "C"}); got != 111 {
		t.Errorf("instancesNeeded for scenario C alone = %d, want 111", got)
	}
	if costIssuerName("CSR") == costIssuerName("Instance") {
		t.Error("both order APIs share scenario B's issuer")
	}
}

func TestWaitFailsWhenNotReady(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := cmapi.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	pending := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "c0001", Namespace: "ns"},
		Status: cmapi.CertificateStatus{Conditions: []cmapi.CertificateCondition{
			{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionFalse, Reason: "Issuing", Message: "waiting"},
		}},
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(pending).Build()
	tr := &tracker{batches: map[string]*batch{}}
	b := tr.newBatch("ns", 2)
	now := time.Now()
	tr.created(b, "c0000", now)
	tr.created(b, "c0001", now)
	ready := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Name: "c0000", Namespace: "ns", Generation: 1},
		Status: cmapi.CertificateStatus{Conditions: []cmapi.CertificateCondition{
			{Type: cmapi.CertificateConditionReady, Status: cmmeta.ConditionTrue, ObservedGeneration: 1},
		}}}
	tr.observe(ready)
	_, err := tr.wait(context.Background(), c, b, 50*time.Millisecond)
	if err == nil || !strings.Contains(err.Error(), "1 of 2") || !strings.Contains(err.Error(), "ns/c0001: Ready=False Issuing: waiting") {
		t.Fatalf("wait: %v", err)
	}

	pending.Generation = 1
	pending.Status.Conditions = ready.Status.Conditions
	tr.observe(pending)
	r, err := tr.wait(context.Background(), c, b, time.Second)
	if err != nil || len(r.Latencies) != 2 {
		t.Fatalf("wait: %v %+v", err, r)
	}
}
