package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// Target is one goal the benchmark shows, met or missed.
type Target struct {
	Name   string `json:"name"`
	Goal   string `json:"goal"`
	Value  string `json:"measured"`
	Status string `json:"status"` // met, missed, or not measured
	Note   string `json:"note,omitempty"`
}

func status(ok bool) string {
	if ok {
		return "met"
	}
	return "missed"
}

// targets judges the results against the goals (medians over rounds).
func targets(r *Results) []Target {
	var out []Target
	for _, c := range r.B {
		limit := callsLimit(c.OrderAPI, c.ValidationDelaySeconds)
		out = append(out, Target{
			Name:   fmt.Sprintf("Alibaba Cloud calls per certificate, orderAPI %s, validation delay %gs", c.OrderAPI, c.ValidationDelaySeconds),
			Goal:   "≤ " + fmtNum(limit),
			Value:  fmtNum(c.CallsPerCert.Median),
			Status: status(c.CallsPerCert.Median <= limit),
			Note:   breakdown(c.CallsByAction, true),
		})
		if c.ValidationDelaySeconds > 0 {
			out = append(out, Target{
				Name:   fmt.Sprintf("Median time from the simulator's issuance to Ready, orderAPI %s, validation delay %gs", c.OrderAPI, c.ValidationDelaySeconds),
				Goal:   "≤ 10 s",
				Value:  fmtNum(c.IssuedToReady.Median) + " s",
				Status: status(c.IssuedToReady.Median <= 10),
				Note:   fmt.Sprintf("p50 created to Ready %s s", fmtNum(c.P50.Median)),
			})
		}
	}
	worst, where := 0.0, []string{}
	check := func(label string, c CostStats) {
		worst = math.Max(worst, c.WritesPerCert.Median)
		where = append(where, fmt.Sprintf("%s %s, of which Events %s", label, fmtNum(c.WritesPerCert.Median), fmtNum(c.EventsPerCert.Median)))
	}
	for _, c := range r.B {
		check(fmt.Sprintf("B %s %gs:", c.OrderAPI, c.ValidationDelaySeconds), c.CostStats)
	}
	if r.A != nil {
		check(fmt.Sprintf("A CSR N=%d:", r.A.N), r.A.Cost)
		if r.A.InstanceRounds > 0 {
			check(fmt.Sprintf("A Instance N=%d:", r.A.N), r.A.InstanceCost)
		}
	}
	out = append(out, Target{
		Name: "Issuer API-server writes (POST/PUT/PATCH) per certificate", Goal: "≤ 4",
		Value: fmtNum(worst), Status: status(worst <= 4), Note: strings.Join(where, "; "),
	})
	for _, c := range r.C {
		if !c.Learning {
			out = append(out, throttleTargets(c)...)
		}
	}
	if a := r.A; a != nil {
		out = append(out, ratioTarget(a, "CSR", a.Aliyun, a.RatioP50, a.RatioWall))
		if a.InstanceRounds > 0 {
			out = append(out, ratioTarget(a, "Instance", a.Instance, a.InstanceRatioP50, a.InstanceRatioWall))
		}
		out = append(out, rssTarget(a))
	}
	return out
}

// allowedShare is the share of the simulator's allowed rate that reached it.
func (c *Throttle) allowedShare() float64 {
	if c.SimQPS <= 0 {
		return 0
	}
	return c.CallRate.Median / c.SimQPS
}

// throttleTargets judge scenario C for one order API: the allowed rate
// used, few throttled answers, and no second above the limit + 1.
func throttleTargets(c *Throttle) []Target {
	share := c.allowedShare()
	peakMax := math.Floor(c.SimQPS) + 1
	name := func(what string) string {
		return fmt.Sprintf("Throttling (N=%d, simulator %s calls/s), orderAPI %s: %s", c.N, fmtNum(c.SimQPS), c.OrderAPI, what)
	}
	return []Target{
		{Name: name("share of the allowed rate reaching the simulator"), Goal: "≥ 80 %",
			Value: fmtNum(round3(100*share)) + " %", Status: status(share >= 0.8),
			Note: fmt.Sprintf("%s calls/s from the first call to the last; all Ready in %ss", fmtNum(c.CallRate.Median), fmtNum(c.Wall.Median))},
		{Name: name("throttled answers per certificate"), Goal: "≤ 0.05",
			Value: fmtNum(c.ThrottledPerCert.Median), Status: status(c.ThrottledPerCert.Median <= 0.05)},
		{Name: name("calls in the busiest second"), Goal: "≤ " + fmtNum(peakMax),
			Value: fmtNum(c.Peak1s.Median), Status: status(c.Peak1s.Median <= peakMax)},
	}
}

// callsLimit is the goal for Alibaba Cloud calls per certificate: the V1.0
// CSR flow needs an order and one state query when validation is immediate;
// the V2.0 Instance flow writes the CSR onto an instance, submits, and reads
// the instance and the certificate back (≤ 6), and ≤ 8 when it must poll
// through a slow validation.
func callsLimit(orderAPI string, delaySeconds float64) float64 {
	switch {
	case orderAPI == string(v1alpha1.OrderAPIInstance) && delaySeconds > 0:
		return 8
	case orderAPI == string(v1alpha1.OrderAPIInstance):
		return 6
	case delaySeconds > 0:
		return 6
	default:
		return 2
	}
}

// ratioGoal is the goal for the time-to-Ready ratio against the CA issuer
// at n Certificates: within 25 % at the default N, at least as fast at
// 1000 and more (where both wait on cert-manager and the API server, and
// the issuer must not be what bounds them). Zero: no goal at that size.
func ratioGoal(n int) float64 {
	switch {
	case n >= 1000:
		return 1.0
	case n == 200:
		return 1.25
	}
	return 0
}

// ratioTarget judges one order API's time to Ready against the CA issuer.
func ratioTarget(a *Throughput, orderAPI string, t *IssuerThroughput, ratioP50, ratioWall float64) Target {
	goal := ratioGoal(a.N)
	tg := Target{
		Name:  fmt.Sprintf("Time-to-Ready ratio this issuer (orderAPI %s) / CA issuer (median p50), N=%d", orderAPI, a.N),
		Goal:  "≤ 1.25 at N=200, ≤ 1.0 at N=1000 and N=5000",
		Value: fmtNum(ratioP50),
		Note:  fmt.Sprintf("p50 %ss vs %ss; wall-time ratio %s", fmtNum(t.P50.Median), fmtNum(a.CA.P50.Median), fmtNum(ratioWall)),
	}
	if goal == 0 {
		tg.Status = "not measured"
		tg.Note += fmt.Sprintf("; measured at N=%d, the goals are for N=200, 1000 and 5000", a.N)
		return tg
	}
	tg.Status = status(ratioP50 <= goal)
	return tg
}

// rssTarget judges the issuer's peak RSS: ≤ 80 MiB at N=1000, ≤ 150 MiB at
// N=5000 (the caches hold every CertificateRequest and Secret of the
// cluster, so memory grows with the cluster, not with the requests in
// flight).
func rssTarget(a *Throughput) Target {
	tg := Target{
		Name:  "Issuer peak RSS",
		Goal:  "≤ 80 MiB at N=1000, ≤ 150 MiB at N=5000",
		Value: fmt.Sprintf("%s MiB at N=%d", fmtNum(a.Resources.PeakRSSMiB), a.N),
	}
	switch {
	case a.N >= 5000:
		tg.Status = status(a.Resources.PeakRSSMiB <= 150)
	case a.N >= 1000:
		tg.Status = status(a.Resources.PeakRSSMiB <= 80)
	default:
		tg.Status = "not measured"
		tg.Note = "run with BENCH_N=1000 or BENCH_N=5000"
	}
	return tg
}

// fmtNum prints a number with at most two decimals.
func fmtNum(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// fmtStat is "median (min–max)", or the median alone when all rounds agree.
func fmtStat(s Stat) string {
	if len(s.Values) <= 1 || fmtNum(s.Min) == fmtNum(s.Max) {
		return fmtNum(s.Median)
	}
	return fmt.Sprintf("%s (%s–%s)", fmtNum(s.Median), fmtNum(s.Min), fmtNum(s.Max))
}

// markdown is the results as tables, for stdout and the README.
func markdown(r *Results) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	m := r.Machine
	p("Measured %s on %d cores, %s GiB (%s), %s %s, in %.1f min. ", r.Date, m.Cores, fmtNum(m.MemoryGiB), m.CPU, m.GoVersion, m.OSArch, r.Seconds/60)
	p("Issuer client rate limit: the default %s calls/s (burst %d)", fmtNum(r.Settings.ClientRateLimit), r.Settings.ClientBurst)
	if a := r.A; a != nil && len(a.IssuerArgs) > 0 {
		p(", in scenario A `%s`", strings.Join(a.IssuerArgs, " "))
	}
	if len(r.Settings.IssuerArgs) > 0 {
		p("; issuer flags `%s` throughout", strings.Join(r.Settings.IssuerArgs, " "))
	}
	p("; %s keys; simulator validation %s", r.Settings.KeyAlgorithm, r.Settings.Validation)
	if r.Settings.V2Instances > 0 {
		p(", %d V2.0 subscription instances for orderAPI Instance (one per Certificate), validation records %ss after the submission", r.Settings.V2Instances, fmtNum(r.Settings.RecordsDelaySeconds))
	}
	p(". Figures are the median (min–max) over rounds.\n\n")

	if a := r.A; a != nil {
		p("**A. Throughput**: %d Certificates created at once, alternating: %d rounds of the CSR issuer and of the CA issuer", a.N, a.Rounds)
		if a.InstanceRounds > 0 {
			p(", %d of the Instance issuer", a.InstanceRounds)
			if a.InstanceRounds < a.Rounds {
				p(" (fewer, to keep `make bench` short; `-instance-rounds` sets it)")
			}
		}
		p(".\n\n| Issuer | Rounds | All Ready (s) | p50 (s) | p90 (s) | p99 (s) | Alibaba calls/cert | API-server writes/cert |\n|---|---|---|---|---|---|---|---|\n")
		row := func(name string, rounds int, t *IssuerThroughput, c *CostStats) {
			calls, writes := "–", "–"
			if c != nil {
				calls, writes = fmtStat(c.CallsPerCert), fmtStat(c.WritesPerCert)
			}
			p("| %s | %d | %s | %s | %s | %s | %s | %s |\n", name, rounds, fmtStat(t.Wall), fmtStat(t.P50), fmtStat(t.P90), fmtStat(t.P99), calls, writes)
		}
		row("aliyun-cas-issuer, orderAPI CSR (simulator, no validation delay)", a.Rounds, a.Aliyun, &a.Cost)
		if a.InstanceRounds > 0 {
			row("aliyun-cas-issuer, orderAPI Instance (simulator, no validation delay)", a.InstanceRounds, a.Instance, &a.InstanceCost)
		}
		row("cert-manager CA issuer", a.Rounds, a.CA, nil)
		p("\nRatio this issuer / CA issuer (median p50, median wall time): orderAPI CSR %s, %s", fmtNum(a.RatioP50), fmtNum(a.RatioWall))
		if a.InstanceRounds > 0 {
			p("; orderAPI Instance %s, %s", fmtNum(a.InstanceRatioP50), fmtNum(a.InstanceRatioWall))
		}
		p(".\n\n")
	}

	if len(r.B) > 0 {
		p("**B. Cost per certificate** (N=%d):\n\n", r.B[0].N)
		p("| Order API | Validation delay | Rounds | Alibaba calls/cert | Calls by action | API-server writes/cert | Writes by request | p50 to Ready (s) | Issuance to Ready, median (s) |\n|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range r.B {
			p("| %s | %gs | %d | %s | %s | %s | %s | %s | %s |\n", c.OrderAPI, c.ValidationDelaySeconds, c.Rounds, fmtStat(c.CallsPerCert),
				breakdown(c.CallsByAction, true), fmtStat(c.WritesPerCert), breakdown(c.WritesByRequest, true), fmtStat(c.P50), fmtStat(c.IssuedToReady))
		}
		poll := r.B[0].PollInterval
		if poll == "" {
			poll = "the API default (30s)"
		}
		p("\nIssuer spec.pollInterval: %s.\n\n", poll)
	}

	if len(r.C) > 0 {
		c0 := r.C[0]
		p("**C. Throttling** (N=%d): the simulator allows %s calls/s. Calls are timed when they reach the simulator, rates from the first call of the run to the last; the last row's client limit is above the simulator's, so the issuer learns the rate from throttled answers.\n\n", c0.N, fmtNum(c0.SimQPS))
		p("| Order API | Client limit (calls/s, burst) | Issued | All Ready (s) | Calls/s reaching the simulator | Share of the allowed rate | Peak calls in 1 s | Accepted calls/s | Throttled answers/cert | Calls/cert | Calls by action |\n|---|---|---|---|---|---|---|---|---|---|---|\n")
		for _, c := range r.C {
			p("| %s | %s, %d | %d | %s | %s | %s %% | %s | %s | %s | %s | %s |\n", c.OrderAPI, fmtNum(c.ClientRate), c.ClientBurst, c.Issued, fmtStat(c.Wall), fmtStat(c.CallRate), fmtNum(round3(100*c.allowedShare())),
				fmtStat(c.Peak1s), fmtStat(c.AcceptedRate), fmtStat(c.ThrottledPerCert), fmtStat(c.CallsPerCert), breakdown(c.CallsByAction, true))
		}
		p("\n")
	}

	if a := r.A; a != nil {
		res := a.Resources
		p("**Issuer process** (scenario A; one process serves both issuers, so the peak RSS is over all rounds):\n\n")
		p("| Order API | N | Peak RSS (MiB) | CPU s per round | CPU ms per certificate |\n|---|---|---|---|---|\n")
		p("| CSR | %d | %s | %s | %s |\n", res.N, fmtNum(res.PeakRSSMiB), fmtStat(res.CPUSeconds), fmtStat(a.Cost.CPUMsPerCert))
		if a.InstanceRounds > 0 {
			p("| Instance | %d | %s | %s | %s |\n", res.N, fmtNum(res.PeakRSSMiB), fmtStat(res.InstanceCPUSeconds), fmtStat(a.InstanceCost.CPUMsPerCert))
		}
		p("\n")
	}

	p("**Targets**:\n\n| Target | Goal | Measured | Status |\n|---|---|---|---|\n")
	for _, t := range r.Targets {
		val := t.Value
		if t.Note != "" {
			val += " (" + t.Note + ")"
		}
		p("| %s | %s | %s | %s |\n", t.Name, t.Goal, val, t.Status)
	}
	return b.String()
}

func resultsJSON(r *Results) ([]byte, error) {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(b, '\n'), nil
}
