package preflight

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Without an AccessKey pair in the environment, RRSA's variables are used (the OIDC token
// exchanged with STS AssumeRoleWithOIDC), as on ACK.
func TestPreflightRRSA(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) { c.V2.Instances = 1 })
	enc := base64.RawURLEncoding.EncodeToString
	payload := fmt.Sprintf(`{"sub":"system:serviceaccount:cert-manager:aliyun-cas-issuer","exp":%d}`, time.Now().Add(time.Hour).Unix())
	tokenFile := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(tokenFile, []byte(enc([]byte(`{"alg":"RS256"}`))+"."+enc([]byte(payload))+"."+enc([]byte("sig"))), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1000000000000000:role/cas-issuer")
	t.Setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1000000000000000:oidc-provider/ack-rrsa")
	t.Setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", tokenFile)
	var out, errOut bytes.Buffer
	args := []string{"--endpoint", sim.URL(), "--sts-endpoint", sim.URL(), "--allow-insecure-endpoints", "--output", "json"}
	code := Main(context.Background(), args, func(string) string { return "" }, &out, &errOut)
	var rep Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v:\n%s%s", err, out.String(), errOut.String())
	}
	if code != ExitOK || !rep.CanIssue || !strings.Contains(rep.Credentials, "default chain") {
		t.Fatalf("exit %d, canIssue %v, credentials %q:\n%s", code, rep.CanIssue, rep.Credentials, out.String())
	}
	if n := sim.State().Calls["AssumeRoleWithOIDC"]; n == 0 {
		t.Error("the OIDC token was never exchanged")
	}
}

// A clock far from the server's: the clock line fails; a small skew is only a warning.
func TestPreflightClockSkew(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) { c.V2.Instances = 1 })
	for _, tc := range []struct {
		offset time.Duration
		want   Status
	}{{-20 * time.Minute, StatusFail}, {3 * time.Minute, StatusWarn}, {0, StatusOK}} {
		o := Options{
			Endpoint: sim.URL(), DNSEndpoint: sim.URL(), AllowInsecure: true,
			Credentials: aliyun.Credentials{AccessKeyID: keyID, AccessKeySecret: keySecret},
			// The local clock as the preflight reads it; the request is still signed with
			// the real time, so only the Date comparison sees the offset.
			now: func() time.Time { return time.Now().Add(tc.offset) },
		}
		rep, err := Run(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		l, _ := findLine(*rep, "clock", "")
		if l.Status != tc.want {
			t.Errorf("local clock off by %s: clock line %+v, want %s", tc.offset, l, tc.want)
		}
		if tc.want == StatusFail && rep.CanIssue {
			t.Errorf("off by %s: canIssue", tc.offset)
		}
	}
}
