package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
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
