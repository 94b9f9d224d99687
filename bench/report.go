package bench

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"strings"
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
		limit := 2.0
		if c.ValidationDelaySeconds > 0 {
			limit = 6
		}
		out = append(out, Target{
			Name:   fmt.Sprintf("Alibaba Cloud calls per certificate, validation delay %gs", c.ValidationDelaySeconds),
			Goal:   "≤ " + fmtNum(limit),
			Value:  fmtNum(c.CallsPerCert.Median),
			Status: status(c.CallsPerCert.Median <= limit),
			Note:   breakdown(c.CallsByAction, true),
		})
	}
	worst, where := 0.0, []string{}
	check := func(label string, c CostStats) {
		worst = math.Max(worst, c.WritesPerCert.Median)
		where = append(where, fmt.Sprintf("%s %s, of which Events %s", label, fmtNum(c.WritesPerCert.Median), fmtNum(c.EventsPerCert.Median)))
	}
	for _, c := range r.B {
		check(fmt.Sprintf("B %gs:", c.ValidationDelaySeconds), c.CostStats)
	}
	if r.A != nil {
		check(fmt.Sprintf("A N=%d:", r.A.N), r.A.Cost)
	}
	out = append(out, Target{
		Name: "Issuer API-server writes (POST/PUT/PATCH) per certificate", Goal: "≤ 3",
		Value: fmtNum(worst), Status: status(worst <= 3), Note: strings.Join(where, "; "),
	})
	if a := r.A; a != nil {
		t := Target{
			Name:   fmt.Sprintf("Time-to-Ready ratio this issuer / CA issuer (median p50), N=%d", a.N),
			Goal:   "≤ 1.25 at N=200",
			Value:  fmtNum(a.RatioP50),
			Status: status(a.RatioP50 <= 1.25),
			Note:   fmt.Sprintf("p50 %ss vs %ss; wall-time ratio %s", fmtNum(a.Aliyun.P50.Median), fmtNum(a.CA.P50.Median), fmtNum(a.RatioWall)),
		}
		if a.N != 200 {
			t.Status = "not measured"
			t.Note += fmt.Sprintf("; measured at N=%d, the goal is for N=200", a.N)
		}
		out = append(out, t)
		rss := Target{
			Name:  "Issuer peak RSS at N=1000",
			Goal:  "≤ 80 MiB",
			Value: fmt.Sprintf("%s MiB at N=%d", fmtNum(a.Resources.PeakRSSMiB), a.N),
		}
		if a.N >= 1000 {
			rss.Status = status(a.Resources.PeakRSSMiB <= 80)
		} else {
			rss.Status = "not measured"
			rss.Note = "run with BENCH_N=1000"
		}
		out = append(out, rss)
	}
	return out
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
	p("; %s keys; simulator validation %s. Figures are the median (min–max) over rounds.\n\n", r.Settings.KeyAlgorithm, r.Settings.Validation)

	if a := r.A; a != nil {
		p("**A. Throughput**: %d Certificates created at once, %d rounds per issuer, alternating.\n\n", a.N, a.Rounds)
		p("| Issuer | All Ready (s) | p50 (s) | p90 (s) | p99 (s) |\n|---|---|---|---|---|\n")
		for _, row := range []struct {
			name string
			t    *IssuerThroughput
		}{{"aliyun-cas-issuer (simulator, no delay)", a.Aliyun}, {"cert-manager CA issuer", a.CA}} {
			p("| %s | %s | %s | %s | %s |\n", row.name, fmtStat(row.t.Wall), fmtStat(row.t.P50), fmtStat(row.t.P90), fmtStat(row.t.P99))
		}
		p("\nRatio this issuer / CA issuer: %s (median p50), %s (median wall time). ", fmtNum(a.RatioP50), fmtNum(a.RatioWall))
		p("Per certificate in these rounds: %s Alibaba Cloud calls, %s API-server writes.\n\n", fmtStat(a.Cost.CallsPerCert), fmtStat(a.Cost.WritesPerCert))
	}

	if len(r.B) > 0 {
		p("**B. Cost per certificate** (N=%d):\n\n", r.B[0].N)
		p("| Validation delay | Rounds | Alibaba calls/cert | Calls by action | API-server writes/cert | Writes by request | p50 to Ready (s) |\n|---|---|---|---|---|---|---|\n")
		for _, c := range r.B {
			p("| %gs | %d | %s | %s | %s | %s | %s |\n", c.ValidationDelaySeconds, c.Rounds, fmtStat(c.CallsPerCert),
				breakdown(c.CallsByAction, true), fmtStat(c.WritesPerCert), breakdown(c.WritesByRequest, true), fmtStat(c.P50))
		}
		poll := r.B[0].PollInterval
		if poll == "" {
			poll = "the API default (30s)"
		}
		p("\nIssuer spec.pollInterval: %s.\n\n", poll)
	}

	if c := r.C; c != nil {
		p("**C. Throttling**: the simulator allows %s calls/s; the issuer's client limit is %s calls/s (burst %d).\n\n", fmtNum(c.SimQPS), fmtNum(c.ClientRate), c.ClientBurst)
		p("| N | Issued | All Ready (s) | Calls/s reaching the simulator | Peak calls in 1 s | Accepted calls/s | Throttled answers/cert | Calls/cert |\n|---|---|---|---|---|---|---|---|\n")
		p("| %d | %d | %s | %s | %s | %s | %s | %s |\n\n", c.N, c.Issued, fmtStat(c.Wall), fmtStat(c.CallRate), fmtStat(c.Peak1s),
			fmtStat(c.AcceptedRate), fmtStat(c.ThrottledPerCert), fmtStat(c.CallsPerCert))
	}

	if a := r.A; a != nil {
		res := a.Resources
		p("**Issuer process** (scenario A):\n\n| N | Peak RSS (MiB) | CPU s per round | CPU ms per certificate |\n|---|---|---|---|\n")
		p("| %d | %s | %s | %s |\n\n", res.N, fmtNum(res.PeakRSSMiB), fmtStat(res.CPUSeconds), fmtStat(a.Cost.CPUMsPerCert))
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
