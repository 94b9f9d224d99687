package main

import (
	"bufio"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

func TestParseFlags(t *testing.T) {
	cfg, listen, err := parseFlags([]string{
		"--listen", "127.0.0.1:0", "--access-key", "a:b", "--access-key", "c:d:e",
		"--zone", "example.com", "--zone", "example.org", "--package", "digicert-free-1-free:3",
		"--package", "globalsign-dv-w-advanced:2:4", "--dv-instances", "2", "--validation", "dns",
		"--validation-delay", "1s", "--issue-delay", "2s", "--fail-domain", "bad.example",
		"--fault-rate", "0.1", "--fault-hang", "3s", "--throttle-qps", "5", "--latency", "10ms",
		"--strict-cn", "--ca-dir", "/tmp/x", "--dns-listen", "127.0.0.1:0",
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if listen != "127.0.0.1:0" || cfg.AccessKeys["a"] != "b" || cfg.AccessKeys["c"] != "d:e" || len(cfg.Zones) != 2 ||
		cfg.Packages["digicert-free-1-free"].Quota != 3 || cfg.Packages["globalsign-dv-w-advanced"] != (aliyunsim.Package{Quota: 2, MaxNames: 4}) ||
		cfg.DVInstances != 2 || cfg.Validation != "dns" || cfg.ValidationDelay != time.Second || cfg.IssueDelay != 2*time.Second ||
		cfg.FailDomains[0] != "bad.example" || cfg.FaultRate != 0.1 || cfg.FaultHang != 3*time.Second || cfg.ThrottleQPS != 5 ||
		cfg.Latency != 10*time.Millisecond || !cfg.StrictCN || cfg.CADir != "/tmp/x" || cfg.DNSListen != "127.0.0.1:0" {
		t.Fatalf("config: %+v", cfg)
	}
	for _, bad := range [][]string{
		{},                          // no access key
		{"--access-key", "nocolon"}, // malformed key
		{"--access-key", "a:b", "--package", "x"},
		{"--access-key", "a:b", "--package", "digicert-free-1-free:-1"},
		{"--access-key", "a:b", "--package", "digicert-free-1-free:1:0"},
		{"--access-key", "a:b", "stray"},
	} {
		if _, _, err := parseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

// TestRun starts the command, reads its one stdout line, calls it, and stops it with SIGTERM.
func TestRun(t *testing.T) {
	outR, outW := io.Pipe()
	stop := make(chan os.Signal, 1)
	done := make(chan error, 1)
	go func() {
		done <- run([]string{"--listen", "127.0.0.1:0", "--access-key", "testid:testsecret", "--zone", "example.com", "--dns-listen", "127.0.0.1:0"}, outW, io.Discard, stop)
		outW.Close()
	}()
	lines := bufio.NewScanner(outR)
	if !lines.Scan() {
		t.Fatalf("no ready line: %v", <-done)
	}
	line := lines.Text()
	const prefix = "aliyunsim listening on http://127.0.0.1:"
	if !strings.HasPrefix(line, prefix) {
		t.Fatalf("ready line %q", line)
	}
	base := strings.TrimPrefix(line, "aliyunsim listening on ")
	resp, err := http.Get(base + "/_sim/state")
	if err != nil {
		t.Fatal(err)
	}
	var st aliyunsim.State
	err = json.NewDecoder(resp.Body).Decode(&st)
	resp.Body.Close()
	if err != nil || st.Packages[aliyunsim.DefaultProduct].Total != 20 || st.Zones[0] != "example.com" {
		t.Fatalf("state: %+v %v", st, err)
	}
	stop <- syscall.SIGTERM
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no shutdown")
	}
	if lines.Scan() {
		t.Fatalf("more than one stdout line: %q", lines.Text())
	}
	if _, err := http.Get(base + "/_sim/state"); err == nil {
		t.Fatal("still serving after shutdown")
	}
}
