package main

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// runAsIssuer makes the test binary act as the issuer command when set.
const runAsIssuer = "ALIYUN_CAS_ISSUER_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if args := os.Getenv(runAsIssuer); args != "" {
		os.Args = append([]string{"aliyun-cas-issuer"}, strings.Fields(args)...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// --help lists the flags an operator needs for the endpoint rules.
func TestHelpListsEndpointFlag(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), runAsIssuer+"=--help")
	out, _ := cmd.CombinedOutput() // --help exits 0 (flag) or 2; the text is what matters
	for _, want := range []string{"-allow-insecure-endpoints", "-issuer-ambient-credentials"} {
		if !strings.Contains(string(out), want) {
			t.Errorf("--help does not list %s:\n%s", want, out)
		}
	}
}

// `aliyun-cas-issuer preflight` runs the preflight (not the manager) and exits with its
// code: against an account with a V2.0 instance it prints a JSON report and exits 0.
func TestPreflightSubcommand(t *testing.T) {
	const id, secret = "test-main-key-id", "main-test-secret"
	sim, err := aliyunsim.New(aliyunsim.Config{AccessKeys: map[string]string{id: secret}, V2: aliyunsim.V2Config{Instances: 1}})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sim.Close() }()
	run := func(extra ...string) (int, []byte) {
		args := append([]string{"preflight", "--endpoint", url, "--allow-insecure-endpoints", "--output", "json"}, extra...)
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), runAsIssuer+"="+strings.Join(args, " "),
			"ALIBABA_CLOUD_ACCESS_KEY_ID="+id, "ALIBABA_CLOUD_ACCESS_KEY_SECRET="+secret)
		out, err := cmd.Output()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), out
	}
	code, out := run()
	var rep struct {
		OrderAPI string `json:"orderAPI"`
		CanIssue bool   `json:"canIssue"`
	}
	if err := json.Unmarshal(out, &rep); err != nil || code != 0 || !rep.CanIssue || rep.OrderAPI != "Instance" {
		t.Fatalf("exit %d, %+v, %v:\n%s", code, rep, err, out)
	}
	if code, out := run("--order-api", "CSR", "--product-code", "no-such-product"); code != 1 {
		t.Errorf("a product without a package: exit %d, want 1:\n%s", code, out)
	}
}
