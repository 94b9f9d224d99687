package bench

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Config says what to run.
type Config struct {
	// N Certificates per round of scenario A; Rounds rounds per issuer,
	// InstanceRounds of them (at most Rounds) also with orderAPI Instance.
	N, Rounds, InstanceRounds int
	// ThroughputArgs are issuer flags for scenario A only, e.g. the raised
	// client rate limit; the other scenarios run the issuer with the
	// default limit, restarting it.
	ThroughputArgs []string
	// CostN Certificates per round of scenario B; CostDelay the slow
	// validation delay, run CostDelayedRounds times (the zero delay runs
	// Rounds times); CostPollInterval the issuer's spec.pollInterval
	// (0 keeps the API default).
	CostN             int
	CostDelay         time.Duration
	CostDelayedRounds int
	CostPollInterval  time.Duration
	// ThrottleN Certificates while the simulator throttles at ThrottleQPS.
	ThrottleN   int
	ThrottleQPS float64
	// IssuerArgs are extra flags for the issuer process.
	IssuerArgs []string
	// Scenarios are the letters of the scenarios to run ("ABC" when empty);
	// a partial run is for working on one of them.
	Scenarios string
	// OutDir receives results.json, results.md and latency.svg.
	OutDir string
	// Stdout receives the Markdown table; Log progress lines.
	Stdout io.Writer
	Log    io.Writer
}

// Results is everything measured, as results.json holds it.
type Results struct {
	Date     string      `json:"date"`
	Machine  Machine     `json:"machine"`
	Settings Settings    `json:"settings"`
	A        *Throughput `json:"throughput"`
	B        []*Cost     `json:"costPerCertificate"`
	C        []*Throttle `json:"throttling"`
	Targets  []Target    `json:"targets"`
	Seconds  float64     `json:"benchSeconds"`
}

// Settings are the parameters of the run.
type Settings struct {
	N                 int      `json:"n"`
	Rounds            int      `json:"rounds"`
	InstanceRounds    int      `json:"instanceRounds"`
	CostN             int      `json:"costN"`
	CostDelaySeconds  float64  `json:"costDelaySeconds"`
	ThrottleN         int      `json:"throttleN"`
	ThrottleQPS       float64  `json:"throttleQPS"`
	ClientRateLimit   float64  `json:"issuerClientRateLimit"`
	ClientBurst       int      `json:"issuerClientBurst"`
	IssuerArgs        []string `json:"issuerArgs"`
	KeyAlgorithm      string   `json:"keyAlgorithm"`
	CertManagerWorker int      `json:"certManagerWorkersPerController"`
	Validation        string   `json:"simulatorValidation"`
	// V2Instances is how many V2.0 subscription instances the simulator
	// sells at start (one per Certificate of the Instance rounds);
	// RecordsDelaySeconds the time from a V2.0 submission to its records.
	V2Instances         int     `json:"simulatorV2Instances"`
	RecordsDelaySeconds float64 `json:"simulatorRecordsDelaySeconds"`
}

// Machine describes where the numbers come from.
type Machine struct {
	Cores     int     `json:"cores"`
	MemoryGiB float64 `json:"memoryGiB"`
	CPU       string  `json:"cpu"`
	Kernel    string  `json:"kernel"`
	GoVersion string  `json:"goVersion"`
	OSArch    string  `json:"osArch"`
}

// Run runs the scenarios and writes the results.
func Run(ctx context.Context, cfg Config) (*Results, error) {
	start := time.Now()
	cfg.InstanceRounds = min(cfg.InstanceRounds, cfg.Rounds)
	instances := instancesNeeded(cfg)
	logf := func(format string, args ...any) {
		fmt.Fprintf(cfg.Log, "[%6.1fs] %s\n", time.Since(start).Seconds(), fmt.Sprintf(format, args...))
	}
	res := &Results{
		Date:    start.UTC().Format(time.RFC3339),
		Machine: machine(),
		Settings: Settings{
			N: cfg.N, Rounds: cfg.Rounds, InstanceRounds: cfg.InstanceRounds, CostN: cfg.CostN, CostDelaySeconds: cfg.CostDelay.Seconds(),
			ThrottleN: cfg.ThrottleN, ThrottleQPS: cfg.ThrottleQPS,
			ClientRateLimit: signer.DefaultRateLimit, ClientBurst: signer.DefaultBurst,
			IssuerArgs: cfg.IssuerArgs, KeyAlgorithm: "ECDSA P-256", CertManagerWorker: 5, Validation: "auto",
			V2Instances: instances, RecordsDelaySeconds: recordsDelay.Seconds(),
		},
	}
	logf("starting kube-apiserver, etcd, cert-manager's controllers, the simulator and the issuer")
	e, err := startEnv(ctx, cfg.IssuerArgs, instances, logf)
	if err != nil {
		return nil, err
	}
	defer e.stop()
	fail := func(err error) (*Results, error) {
		if tail := e.issuerOutputTail(4000); tail != "" {
			fmt.Fprintf(cfg.Log, "--- issuer output (tail) ---\n%s\n", tail)
		}
		return nil, err
	}

	if cfg.runs('A') {
		logf("scenario A: throughput, %d Certificates at once, %d rounds per issuer (%d with orderAPI Instance)", cfg.N, cfg.Rounds, cfg.InstanceRounds)
		if res.A, err = runThroughput(ctx, e, cfg.N, cfg.Rounds, cfg.InstanceRounds, cfg.ThroughputArgs); err != nil {
			return fail(fmt.Errorf("scenario A: %w", err))
		}
	}
	if cfg.runs('B') {
		if err := runCostScenario(ctx, e, cfg, res, logf); err != nil {
			return fail(err)
		}
	}
	if cfg.runs('C') {
		logf("scenario C: throttling at %g calls/s, N=%d", cfg.ThrottleQPS, cfg.ThrottleN)
		if res.C, err = runThrottle(ctx, e, cfg.ThrottleN, cfg.ThrottleQPS, signer.DefaultRateLimit, signer.DefaultBurst); err != nil {
			return fail(fmt.Errorf("scenario C: %w", err))
		}
	}

	res.Seconds = round3(time.Since(start).Seconds())
	res.Targets = targets(res)
	if err := write(cfg, res); err != nil {
		return nil, err
	}
	logf("done: results in %s", cfg.OutDir)
	return res, nil
}

// runs tells whether scenario letter is part of this run.
func (cfg Config) runs(letter byte) bool {
	return cfg.Scenarios == "" || strings.IndexByte(strings.ToUpper(cfg.Scenarios), letter) >= 0
}

// runCostScenario is scenario B for both order APIs, with and without a validation delay.
func runCostScenario(ctx context.Context, e *env, cfg Config, res *Results, logf func(string, ...any)) error {
	logf("scenario B: cost per certificate, N=%d", cfg.CostN)
	poll := ""
	if cfg.CostPollInterval > 0 {
		poll = cfg.CostPollInterval.String()
	}
	if err := e.startIssuer(ctx, nil); err != nil {
		return fmt.Errorf("restarting the issuer with its default rate limit: %w", err)
	}
	for _, api := range []v1alpha1.OrderAPI{v1alpha1.OrderAPICSR, v1alpha1.OrderAPIInstance} {
		ref, err := e.aliyunIssuer(ctx, costIssuerName(api), api, cfg.CostPollInterval)
		if err != nil {
			return fmt.Errorf("scenario B (orderAPI %s): %w", api, err)
		}
		for _, d := range []struct {
			delay  time.Duration
			rounds int
		}{{0, cfg.Rounds}, {cfg.CostDelay, cfg.CostDelayedRounds}} {
			c, err := runCost(ctx, e, ref, api, poll, cfg.CostN, d.rounds, d.delay)
			if err != nil {
				return fmt.Errorf("scenario B (orderAPI %s, validation delay %s): %w", api, d.delay, err)
			}
			res.B = append(res.B, c)
		}
	}
	return nil
}

// instancesNeeded is how many V2.0 instances the Instance rounds of the
// scenarios that run use: each new Certificate binds an instance of its
// own, and every round creates new Certificates. A tenth more leaves room for a retried choice.
func instancesNeeded(cfg Config) int {
	n := 0
	if cfg.runs('A') {
		n += cfg.N * cfg.InstanceRounds
	}
	if cfg.runs('B') {
		n += cfg.CostN * (cfg.Rounds + cfg.CostDelayedRounds)
	}
	if cfg.runs('C') {
		n += cfg.ThrottleN
	}
	return n + n/10 + 1
}

// costIssuerName is scenario B's issuer for one order API.
func costIssuerName(api v1alpha1.OrderAPI) string {
	if api == v1alpha1.OrderAPICSR {
		return "bench-cost"
	}
	return "bench-cost-" + strings.ToLower(string(api))
}

// write puts the table on stdout and results.md, results.json and
// latency.svg in the output directory.
func write(cfg Config, res *Results) error {
	md := markdown(res)
	fmt.Fprint(cfg.Stdout, md)
	if err := os.MkdirAll(cfg.OutDir, 0o755); err != nil {
		return err
	}
	js, err := resultsJSON(res)
	if err != nil {
		return err
	}
	svg := latencySVG(res.A)
	for name, data := range map[string][]byte{"results.md": []byte(md), "results.json": js, "latency.svg": svg} {
		if err := os.WriteFile(filepath.Join(cfg.OutDir, name), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}

func machine() Machine {
	m := Machine{Cores: runtime.NumCPU(), GoVersion: runtime.Version(), OSArch: runtime.GOOS + "/" + runtime.GOARCH}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if kb, err := statusKB(string(b), "MemTotal"); err == nil {
			m.MemoryGiB = round3(float64(kb) / (1 << 30))
		}
	}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	return m
}
