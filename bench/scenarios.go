package bench

import (
	"context"
	"fmt"
	"math"
	"strings"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// readyBound is how long a batch of n may take before the bench fails:
// generous (the default client rate limit alone needs 0.4s per
// certificate), but finite.
func readyBound(n int, extra time.Duration) time.Duration {
	return 2*time.Minute + extra + time.Duration(n)*800*time.Millisecond
}

// IssuerThroughput is one issuer's figures over the rounds of scenario A.
type IssuerThroughput struct {
	// Wall is from the first Certificate created to the last Ready (s).
	Wall Stat `json:"wallSeconds"`
	// P50, P90 and P99 of Certificate created → Ready (s).
	P50 Stat `json:"p50Seconds"`
	P90 Stat `json:"p90Seconds"`
	P99 Stat `json:"p99Seconds"`
	// Latencies of every round (s, sorted), for the plot.
	Latencies [][]float64 `json:"-"`
}

func (t *IssuerThroughput) add(r BatchResult) {
	t.Latencies = append(t.Latencies, r.Latencies)
	var wall, p50, p90, p99 []float64
	for _, l := range t.Latencies {
		p50 = append(p50, percentile(l, 50))
		p90 = append(p90, percentile(l, 90))
		p99 = append(p99, percentile(l, 99))
	}
	wall = append(t.Wall.Values, r.Wall())
	t.Wall, t.P50, t.P90, t.P99 = statOf(wall...), statOf(p50...), statOf(p90...), statOf(p99...)
}

// Throughput is scenario A.
type Throughput struct {
	N      int `json:"n"`
	Rounds int `json:"rounds"`
	// Aliyun is the issuer with orderAPI CSR (V1.0 packages), Rounds
	// rounds; Instance the issuer with orderAPI Instance (V2.0
	// subscription instances), InstanceRounds rounds.
	Aliyun         *IssuerThroughput `json:"aliyunCASIssuer"`
	Instance       *IssuerThroughput `json:"aliyunCASIssuerInstance"`
	InstanceRounds int               `json:"instanceRounds"`
	CA             *IssuerThroughput `json:"certManagerCAIssuer"`
	// RatioP50 is the median over rounds of the issuer's p50 divided by
	// the CA issuer's; RatioWall the same for wall times.
	RatioP50          float64 `json:"ratioMedianP50"`
	RatioWall         float64 `json:"ratioMedianWall"`
	InstanceRatioP50  float64 `json:"instanceRatioMedianP50"`
	InstanceRatioWall float64 `json:"instanceRatioMedianWall"`
	// Cost is the issuer's cost per certificate in these rounds, with
	// orderAPI CSR; InstanceCost with orderAPI Instance.
	Cost         CostStats `json:"aliyunCost"`
	InstanceCost CostStats `json:"aliyunInstanceCost"`
	// Resources of the issuer process over the scenario.
	Resources Resources `json:"issuerResources"`
	// IssuerArgs are the issuer's flags in this scenario (the client rate
	// limit raised with --aliyun-rate-limit and --aliyun-burst).
	IssuerArgs []string `json:"issuerArgs"`
}

// Resources is the issuer process's memory and CPU.
type Resources struct {
	N int `json:"n"`
	// PeakRSSMiB is VmHWM over the scenario (reset at its start when the
	// kernel allows, else since the process started).
	PeakRSSMiB float64 `json:"peakRSSMiB"`
	PeakReset  bool    `json:"peakResetAtStart"`
	// CPUSeconds is utime+stime per round of this issuer (orderAPI CSR;
	// InstanceCPUSeconds orderAPI Instance).
	CPUSeconds         Stat `json:"cpuSecondsPerRound"`
	InstanceCPUSeconds Stat `json:"instanceCPUSecondsPerRound"`
}

// runThroughput is scenario A: N Certificates at once, this issuer (orderAPI
// CSR, then orderAPI Instance in the first instanceRounds rounds) and the CA
// issuer alternately, rounds times each.
func runThroughput(ctx context.Context, e *env, n, rounds, instanceRounds int, issuerArgs []string) (*Throughput, error) {
	if err := e.startIssuer(ctx, issuerArgs); err != nil {
		return nil, err
	}
	csrRef, err := e.aliyunIssuer(ctx, "bench-throughput", v1alpha1.OrderAPICSR, 0)
	if err != nil {
		return nil, err
	}
	instRef, err := e.aliyunIssuer(ctx, "bench-throughput-instance", v1alpha1.OrderAPIInstance, 0)
	if err != nil {
		return nil, err
	}
	pid := e.f.Issuer.Pid()
	res := &Throughput{N: n, Rounds: rounds, InstanceRounds: instanceRounds, IssuerArgs: issuerArgs,
		Aliyun: &IssuerThroughput{}, Instance: &IssuerThroughput{}, CA: &IssuerThroughput{}}
	res.Resources.N = n
	res.Resources.PeakReset = resetPeakRSS(pid) == nil
	type issuerRounds struct {
		costs []roundCost
		cpu   []float64
	}
	var csr, inst issuerRounds
	for r := 1; r <= rounds; r++ {
		for _, which := range []struct {
			name   string
			ref    cmmeta.IssuerReference
			into   *IssuerThroughput
			rounds int
			cost   *issuerRounds // nil: not this issuer's
		}{
			{"csr", csrRef, res.Aliyun, rounds, &csr},
			{"inst", instRef, res.Instance, instanceRounds, &inst},
			{"ca", caRef(), res.CA, rounds, nil},
		} {
			if r > which.rounds {
				continue
			}
			ns := fmt.Sprintf("bench-a-%s-%d", which.name, r)
			before, err := e.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			br, err := e.issueBatch(ctx, ns, n, which.ref, readyBound(n, 0))
			if err != nil {
				return nil, err
			}
			if err := e.quiesce(ctx); err != nil {
				return nil, err
			}
			after, err := e.snapshot(ctx)
			if err != nil {
				return nil, err
			}
			which.into.add(br)
			e.log("A round %d/%d %-4s N=%d: wall %.1fs, p50 %.2fs, p99 %.2fs", r, which.rounds, which.name, n,
				br.Wall(), percentile(br.Latencies, 50), percentile(br.Latencies, 99))
			if which.cost != nil {
				which.cost.costs = append(which.cost.costs, costOf(before, after, n))
				which.cost.cpu = append(which.cost.cpu, (after.proc.CPU - before.proc.CPU).Seconds())
			}
			if err := e.cleanup(ctx, ns); err != nil {
				return nil, err
			}
		}
	}
	end, err := readProc(pid)
	if err != nil {
		return nil, err
	}
	res.Resources.PeakRSSMiB = round3(mib(end.PeakRSS))
	res.Resources.CPUSeconds = statOf(csr.cpu...).rounded()
	res.Resources.InstanceCPUSeconds = statOf(inst.cpu...).rounded()
	res.Cost, res.InstanceCost = summarizeCosts(csr.costs), summarizeCosts(inst.costs)
	res.RatioP50 = round3(res.Aliyun.P50.Median / res.CA.P50.Median)
	res.RatioWall = round3(res.Aliyun.Wall.Median / res.CA.Wall.Median)
	res.InstanceRatioP50 = round3(res.Instance.P50.Median / res.CA.P50.Median)
	res.InstanceRatioWall = round3(res.Instance.Wall.Median / res.CA.Wall.Median)
	for _, t := range []*IssuerThroughput{res.Aliyun, res.Instance, res.CA} {
		t.Wall, t.P50, t.P90, t.P99 = t.Wall.rounded(), t.P50.rounded(), t.P90.rounded(), t.P99.rounded()
	}
	return res, nil
}

// Cost is scenario B at one validation delay.
type Cost struct {
	// OrderAPI is the issuer's spec.orderAPI (CSR or Instance).
	OrderAPI               string  `json:"orderAPI"`
	N                      int     `json:"n"`
	Rounds                 int     `json:"rounds"`
	ValidationDelaySeconds float64 `json:"validationDelaySeconds"`
	// PollInterval is the issuer's spec.pollInterval ("" is the API default).
	PollInterval string `json:"pollInterval"`
	Wall         Stat   `json:"wallSeconds"`
	P50          Stat   `json:"p50Seconds"`
	// IssuedToReady is the median time from the simulator's issuance of a certificate
	// to its Certificate being Ready (s): how soon the issuer sees an issuance.
	IssuedToReady Stat `json:"issuedToReadySeconds"`
	CostStats
}

// runCost is scenario B: n Certificates with the simulator's validation
// taking delay; rounds times.
func runCost(ctx context.Context, e *env, ref cmmeta.IssuerReference, orderAPI v1alpha1.OrderAPI, pollInterval string, n, rounds int, delay time.Duration) (*Cost, error) {
	e.f.Sim.SetDelays(delay, 0)
	defer e.f.Sim.SetDelays(0, 0)
	res := &Cost{OrderAPI: string(orderAPI), N: n, Rounds: rounds, ValidationDelaySeconds: delay.Seconds(), PollInterval: pollInterval}
	var costs []roundCost
	var wall, p50, lag []float64
	for r := 1; r <= rounds; r++ {
		ns := fmt.Sprintf("bench-b-%ds-%s-%d", int(delay.Seconds()), ref.Name, r)
		before, err := e.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		br, err := e.issueBatch(ctx, ns, n, ref, readyBound(n, 3*delay))
		if err != nil {
			return nil, err
		}
		if err := e.quiesce(ctx); err != nil {
			return nil, err
		}
		after, err := e.snapshot(ctx)
		if err != nil {
			return nil, err
		}
		lags, err := issuanceLags(after.sim, ns, br.Ready)
		if err != nil {
			return nil, err
		}
		lag = append(lag, percentile(lags, 50))
		c := costOf(before, after, n)
		costs = append(costs, c)
		wall = append(wall, br.Wall())
		p50 = append(p50, percentile(br.Latencies, 50))
		e.log("B %s round %d/%d delay %s N=%d: wall %.1fs, %.2f calls/cert, %.2f writes/cert, issuance to Ready p50 %.1fs",
			orderAPI, r, rounds, delay, n, br.Wall(), c.callsTotal, c.writes, percentile(lags, 50))
		if err := e.cleanup(ctx, ns); err != nil {
			return nil, err
		}
	}
	res.Wall, res.P50, res.IssuedToReady = statOf(wall...).rounded(), statOf(p50...).rounded(), statOf(lag...).rounded()
	res.CostStats = summarizeCosts(costs)
	return res, nil
}

// Throttle is scenario C, for one order API.
type Throttle struct {
	OrderAPI    string  `json:"orderAPI"`
	N           int     `json:"n"`
	SimQPS      float64 `json:"simulatorThrottleQPS"`
	ClientRate  float64 `json:"clientRateLimit"`
	ClientBurst int     `json:"clientBurst"`
	// Learning: the client limit is above the simulator's, so the issuer
	// learns the rate from throttled answers (figures only, no targets).
	Learning bool `json:"learning,omitempty"`
	Wall     Stat `json:"wallSeconds"`
	// CallRate is calls reaching the simulator per second, from the first
	// call of the run to the last; Peak1s the most within any one second.
	CallRate Stat `json:"callsPerSecond"`
	Peak1s   Stat `json:"peakCallsIn1s"`
	// AcceptedRate counts only the calls that were not throttled.
	AcceptedRate Stat `json:"acceptedCallsPerSecond"`
	Issued       int  `json:"issued"`
	CostStats
}

// runThrottle is scenario C: the simulator throttles at qps while n
// Certificates are issued, with each order API in turn at the issuer's
// default client limit (clientRate, clientBurst); then once more with
// orderAPI CSR and the client limit at twice the simulator's, where the
// issuer must learn the account's rate from throttled answers.
func runThrottle(ctx context.Context, e *env, n int, qps float64, clientRate float64, clientBurst int) ([]*Throttle, error) {
	if err := e.startIssuer(ctx, nil); err != nil {
		return nil, fmt.Errorf("restarting the issuer with its default rate limit: %w", err)
	}
	var out []*Throttle
	for _, api := range []v1alpha1.OrderAPI{v1alpha1.OrderAPICSR, v1alpha1.OrderAPIInstance} {
		t, err := runThrottleOnce(ctx, e, api, n, qps, clientRate, clientBurst)
		if err != nil {
			return nil, fmt.Errorf("orderAPI %s: %w", api, err)
		}
		out = append(out, t)
	}
	// A fresh process: nothing learned yet.
	high := 2 * qps
	args := []string{fmt.Sprintf("--aliyun-rate-limit=%g", high), fmt.Sprintf("--aliyun-burst=%d", int(math.Ceil(high)))}
	if err := e.startIssuer(ctx, args); err != nil {
		return nil, fmt.Errorf("restarting the issuer with %v: %w", args, err)
	}
	t, err := runThrottleOnce(ctx, e, v1alpha1.OrderAPICSR, n, qps, high, int(math.Ceil(high)))
	if err != nil {
		return nil, fmt.Errorf("orderAPI CSR, client limit %g: %w", high, err)
	}
	t.Learning = true
	return append(out, t), nil
}

func runThrottleOnce(ctx context.Context, e *env, api v1alpha1.OrderAPI, n int, qps float64, clientRate float64, clientBurst int) (*Throttle, error) {
	name, ns := "bench-throttle", "bench-c-throttle"
	if api != v1alpha1.OrderAPICSR {
		suffix := "-" + strings.ToLower(string(api))
		name, ns = name+suffix, ns+suffix
	}
	if clientRate != signer.DefaultRateLimit {
		name, ns = fmt.Sprintf("%s-%g", name, clientRate), fmt.Sprintf("%s-%g", ns, clientRate)
	}
	ref, err := e.aliyunIssuer(ctx, name, api, 0)
	if err != nil {
		return nil, err
	}
	before, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	e.f.Sim.SetThrottleQPS(qps)
	br, err := e.issueBatch(ctx, ns, n, ref, readyBound(n, 2*time.Minute))
	if err != nil {
		e.f.Sim.SetThrottleQPS(0)
		return nil, err
	}
	qerr := e.quiesce(ctx)
	e.f.Sim.SetThrottleQPS(0)
	if qerr != nil {
		return nil, qerr
	}
	after, err := e.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	calls := e.simLog.since(before.simMark)
	var accepted []simCall
	for _, c := range calls {
		if !c.throttled() {
			accepted = append(accepted, c)
		}
	}
	mean, peak := callRate(calls)
	acc, _ := callRate(accepted)
	c := costOf(before, after, n)
	res := &Throttle{
		OrderAPI: string(api), N: n, SimQPS: qps, ClientRate: clientRate, ClientBurst: clientBurst,
		Wall: statOf(br.Wall()).rounded(), CallRate: statOf(mean).rounded(), Peak1s: statOf(float64(peak)),
		AcceptedRate: statOf(acc).rounded(), Issued: len(br.Latencies), CostStats: summarizeCosts([]roundCost{c}),
	}
	e.log("C throttle %s %.0f qps N=%d: wall %.1fs, %.2f calls/s (peak %d in 1s), %.2f throttled/cert",
		api, qps, n, br.Wall(), mean, peak, c.throttled)
	return res, e.cleanup(ctx, ns)
}
