// Command bench runs the issuer's benchmarks (`make bench`): throughput
// against cert-manager's CA issuer, Alibaba Cloud calls and API-server
// writes per certificate, behaviour under throttling, and the issuer
// process's memory and CPU. It prints a Markdown table and writes
// results.json, results.md and latency.svg. It exits non-zero when a
// Certificate does not become Ready within its bound.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/bench"
)

func main() {
	cfg := bench.Config{Stdout: os.Stdout, Log: os.Stderr}
	flag.IntVar(&cfg.N, "n", envInt("BENCH_N", 200), "Certificates per round of the throughput scenario (env BENCH_N)")
	flag.IntVar(&cfg.Rounds, "rounds", envInt("BENCH_ROUNDS", 0), "rounds per issuer of the throughput scenario, and of the cost scenario without delay (env BENCH_ROUNDS; 0: 3, or 1 when -n is 1000 or more)")
	flag.IntVar(&cfg.InstanceRounds, "instance-rounds", envInt("BENCH_INSTANCE_ROUNDS", 0), "rounds of the throughput scenario with orderAPI Instance, at most -rounds (0: as many as -rounds; -1: none; env BENCH_INSTANCE_ROUNDS)")
	rate := flag.Float64("rate-limit", 100, "the issuer's --aliyun-rate-limit in the throughput scenario (0: the issuer's default)")
	burst := flag.Int("rate-burst", 100, "the issuer's --aliyun-burst in the throughput scenario (0: the issuer's default)")
	flag.IntVar(&cfg.CostN, "cost-n", 20, "Certificates per round of the cost scenario")
	flag.DurationVar(&cfg.CostDelay, "cost-delay", 60*time.Second, "the simulated validation delay of the slow cost scenario")
	flag.IntVar(&cfg.CostDelayedRounds, "cost-delayed-rounds", 1, "rounds of the slow cost scenario")
	flag.DurationVar(&cfg.CostPollInterval, "cost-poll-interval", 0, "spec.pollInterval of the cost scenario's issuer (0: the API default)")
	flag.IntVar(&cfg.ThrottleN, "throttle-n", 100, "Certificates of the throttling scenario")
	flag.Float64Var(&cfg.ThrottleQPS, "throttle-qps", 5, "calls per second the simulator allows in the throttling scenario")
	issuerArgs := flag.String("issuer-args", os.Getenv("BENCH_ISSUER_ARGS"), "extra flags for the issuer process, space separated (env BENCH_ISSUER_ARGS)")
	flag.StringVar(&cfg.Scenarios, "scenarios", os.Getenv("BENCH_SCENARIOS"), "letters of the scenarios to run, e.g. B or AC (empty: all; env BENCH_SCENARIOS)")
	flag.StringVar(&cfg.OutDir, "out", "bench", "directory for results.json, results.md and latency.svg")
	timeout := flag.Duration("timeout", 0, "give up after this long (0: only the per-batch bounds apply)")
	flag.Parse()
	cfg.IssuerArgs = strings.Fields(*issuerArgs)
	if cfg.Rounds == 0 {
		cfg.Rounds = defaultRounds(cfg.N)
	}
	switch {
	case cfg.InstanceRounds == 0:
		cfg.InstanceRounds = cfg.Rounds
	case cfg.InstanceRounds < 0:
		cfg.InstanceRounds = 0
	}
	if *rate > 0 {
		cfg.ThroughputArgs = append(cfg.ThroughputArgs, "--aliyun-rate-limit="+strconv.FormatFloat(*rate, 'f', -1, 64))
	}
	if *burst > 0 {
		cfg.ThroughputArgs = append(cfg.ThroughputArgs, "--aliyun-burst="+strconv.Itoa(*burst))
	}
	if cfg.N < 1 || cfg.Rounds < 1 || cfg.CostN < 1 || cfg.ThrottleN < 1 || cfg.CostDelayedRounds < 1 {
		fmt.Fprintln(os.Stderr, "bench: -n, -rounds, -cost-n, -cost-delayed-rounds and -throttle-n must be at least 1")
		os.Exit(2)
	}

	// The bench's own watches log nothing; cert-manager's logs go to the
	// framework's work directory.
	ctrllog.SetLogger(logr.Discard())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *timeout)
		defer cancel()
	}
	if _, err := bench.Run(ctx, cfg); err != nil {
		fmt.Fprintln(os.Stderr, "bench failed:", err)
		stop()
		os.Exit(1)
	}
}

// defaultRounds is how many rounds run without -rounds: three at the
// default N, for a median; one at 1000 Certificates and more, where a
// round takes minutes and its figures vary less.
func defaultRounds(n int) int {
	if n >= 1000 {
		return 1
	}
	return 3
}

func envInt(name string, def int) int {
	if v := os.Getenv(name); v != "" {
		if n, err := strconv.Atoi(v); err == nil {
			return n
		}
		fmt.Fprintf(os.Stderr, "bench: ignoring %s=%q (not a number)\n", name, v)
	}
	return def
}
