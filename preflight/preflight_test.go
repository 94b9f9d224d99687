package preflight

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

const (
	keyID     = "preflight-test-key-id"
	keySecret = "preflight-test-secret-value"
)

// startSim runs a simulator with one AccessKey pair; mutate adjusts its configuration.
func startSim(t *testing.T, mutate func(*aliyunsim.Config)) *aliyunsim.Simulator {
	t.Helper()
	cfg := aliyunsim.Config{
		AccessKeys: map[string]string{keyID: keySecret},
		Zones:      []string{"example.com"},
	}
	if mutate != nil {
		mutate(&cfg)
	}
	sim, err := aliyunsim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sim.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim
}

// result is one run of the subcommand.
type result struct {
	code           int
	stdout, stderr string
}

func runPreflight(t *testing.T, sim *aliyunsim.Simulator, secret string, args ...string) result {
	t.Helper()
	env := map[string]string{envAccessKeyID: keyID, envAccessKeySecret: secret}
	all := append([]string{"--endpoint", sim.URL(), "--alidns-endpoint", sim.URL(), "--allow-insecure-endpoints", "--timeout", "5s"}, args...)
	var out, errOut bytes.Buffer
	code := Main(context.Background(), all, func(k string) string { return env[k] }, &out, &errOut)
	r := result{code: code, stdout: out.String(), stderr: errOut.String()}
	if strings.Contains(r.stdout+r.stderr, secret) {
		t.Errorf("the output shows the AccessKey secret:\n%s%s", r.stdout, r.stderr)
	}
	return r
}

func runJSON(t *testing.T, sim *aliyunsim.Simulator, secret string, args ...string) (result, Report) {
	t.Helper()
	r := runPreflight(t, sim, secret, append(args, "--output", "json")...)
	var rep Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("the JSON output does not parse: %v\n%s\nstderr: %s", err, r.stdout, r.stderr)
	}
	return r, rep
}

func findLine(rep Report, check, item string) (Line, bool) {
	for _, l := range rep.Lines {
		if l.Check == check && (item == "" || l.Item == item) {
			return l, true
		}
	}
	return Line{}, false
}

// nothingChanged fails when a preflight left a trace in the account: an order, an
// application, a DNS record, a used certificate, an instance out of inactive.
func nothingChanged(t *testing.T, sim *aliyunsim.Simulator) {
	t.Helper()
	st := sim.State()
	if len(st.Orders) != 0 || len(st.Records) != 0 || len(st.UserCertificates) != 0 {
		t.Errorf("the preflight changed the account: %d orders, %d records, %d certificates", len(st.Orders), len(st.Records), len(st.UserCertificates))
	}
	if _, n := st.Applications(); n != 0 {
		t.Errorf("the preflight applied %d times", n)
	}
	for _, in := range st.Instances {
		if in.Status != "inactive" || in.Domain != "" {
			t.Errorf("instance %s is %s (domain %q) after the preflight", in.ID, in.Status, in.Domain)
		}
	}
	for code, p := range st.Packages {
		if p.Used != 0 {
			t.Errorf("package %s: %d used after the preflight", code, p.Used)
		}
	}
	if st.Calls["ApplyCertificate"] == 0 && st.Calls["CreateCertificateWithCsrRequest"] == 0 {
		t.Errorf("no write permission was checked (calls %v)", st.Calls)
	}
}

// A key with every permission on an account with V2.0 instances: everything allowed, the
// recommendation is Instance, exit 0, and nothing in the account changed.
func TestPreflightFullPermissionWithInstances(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) { c.V2.Instances = 2 })
	r, rep := runJSON(t, sim, keySecret, "--name", "www.example.com")
	if r.code != ExitOK || !rep.CanIssue {
		t.Fatalf("exit %d, canIssue %v:\n%s%s", r.code, rep.CanIssue, r.stdout, r.stderr)
	}
	if rep.RecommendedOrderAPI != "Instance" || rep.OrderAPI != "Instance" {
		t.Errorf("recommended %q, checked %q; want Instance", rep.RecommendedOrderAPI, rep.OrderAPI)
	}
	for _, want := range []struct{ check, item, result string }{
		{"signature", "", "accepted"},
		{"ram", "yundun-cert:ListInstances", "allowed"},
		{"ram", "yundun-cert:UpdateInstance", "allowed"},
		{"ram", "yundun-cert:ApplyCertificate", "allowed"},
		{"ram", "alidns:AddDomainRecord", "allowed"},
		{"instances", "V2.0 DV", "2 usable"},
		{"package", "digicert-free-1-free", "20 of 20 left"},
		{"legacy-api", "CAS 2018-07-13", "answers"},
		{"alidns-zone", "www.example.com", "example.com"},
		{"recommendation", "orderAPI", "Instance"},
	} {
		l, ok := findLine(rep, want.check, want.item)
		if !ok || l.Result != want.result || l.Status != StatusOK {
			t.Errorf("%s %s: got %+v (found %v), want %q ok", want.check, want.item, l, ok, want.result)
		}
	}
	if l, _ := findLine(rep, "clock", ""); l.Status != StatusOK || !strings.HasPrefix(l.Result, "skew ") {
		t.Errorf("clock line %+v: want ok with the skew against the Date header", l)
	}
	nothingChanged(t, sim)
}

// Only a V1.0 package: the recommendation is CSR, the CSR actions are checked, exit 0.
func TestPreflightOnlyPackages(t *testing.T) {
	sim := startSim(t, nil)
	r, rep := runJSON(t, sim, keySecret)
	if r.code != ExitOK || rep.RecommendedOrderAPI != "CSR" || rep.OrderAPI != "CSR" {
		t.Fatalf("exit %d, recommended %q, checked %q:\n%s%s", r.code, rep.RecommendedOrderAPI, rep.OrderAPI, r.stdout, r.stderr)
	}
	if l, ok := findLine(rep, "ram", "yundun-cert:CreateCertificateWithCsrRequest"); !ok || l.Result != "allowed" {
		t.Errorf("CreateCertificateWithCsrRequest line %+v (found %v)", l, ok)
	}
	if _, ok := findLine(rep, "ram", "yundun-cert:ApplyCertificate"); ok {
		t.Error("the Instance actions were checked for a CSR recommendation")
	}
	if l, _ := findLine(rep, "instances", ""); l.Result != "0 usable" || l.Status != StatusWarn {
		t.Errorf("instances line %+v: want 0 usable, warn", l)
	}
	nothingChanged(t, sim)

	// Asked for Instance on this account: issuing cannot work.
	r, rep = runJSON(t, sim, keySecret, "--order-api", "Instance")
	if r.code != ExitCannot || rep.CanIssue {
		t.Fatalf("orderAPI Instance without instances: exit %d, canIssue %v", r.code, rep.CanIssue)
	}
	if l, _ := findLine(rep, "instances", ""); l.Status != StatusFail {
		t.Errorf("instances line %+v: want fail", l)
	}
	if l, _ := findLine(rep, "recommendation", ""); l.Result != "CSR" || l.Status != StatusWarn {
		t.Errorf("recommendation line %+v: want CSR, warn", l)
	}
}

// A key whose RAM user lacks one permission: that line says denied, exit non-zero, and
// the table shows it.
func TestPreflightDeniedPermission(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) {
		c.V2.Instances = 1
		c.Denials = []aliyunsim.Denial{{AccessKeyID: keyID, Action: "yundun-cert:ApplyCertificate"}}
	})
	r, rep := runJSON(t, sim, keySecret)
	if r.code != ExitCannot || rep.CanIssue {
		t.Fatalf("exit %d, canIssue %v:\n%s", r.code, rep.CanIssue, r.stdout)
	}
	l, ok := findLine(rep, "ram", "yundun-cert:ApplyCertificate")
	if !ok || l.Result != "denied" || l.Status != StatusFail || !strings.Contains(l.Detail, "Forbidden.RAM") {
		t.Errorf("ApplyCertificate line %+v (found %v): want denied with Forbidden.RAM", l, ok)
	}
	for _, other := range []string{"yundun-cert:UpdateInstance", "yundun-cert:ListInstances"} {
		if l, _ := findLine(rep, "ram", other); l.Result != "allowed" {
			t.Errorf("%s: %+v, want allowed", other, l)
		}
	}
	table := runPreflight(t, sim, keySecret)
	if table.code != ExitCannot {
		t.Errorf("table run exit %d", table.code)
	}
	var row string
	for _, line := range strings.Split(table.stdout, "\n") {
		if strings.Contains(line, "yundun-cert:ApplyCertificate") {
			row = line
		}
	}
	if !strings.Contains(row, "FAIL") || !strings.Contains(row, "denied") || !strings.Contains(table.stdout, "issuing cannot work") {
		t.Errorf("table row %q; output:\n%s", row, table.stdout)
	}
	nothingChanged(t, sim)
}

// A denied read: its line says denied, the instances are unknown, and the recommendation
// says why it falls back to the V1.0 package.
func TestPreflightDeniedRead(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) {
		c.V2.Instances = 1
		c.Denials = []aliyunsim.Denial{{AccessKeyID: keyID, Action: "ListInstances"}}
	})
	r, rep := runJSON(t, sim, keySecret, "--order-api", "Instance")
	if r.code != ExitCannot {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	if l, _ := findLine(rep, "ram", "yundun-cert:ListInstances"); l.Result != "denied" {
		t.Errorf("ListInstances line %+v, want denied", l)
	}
	if l, _ := findLine(rep, "instances", ""); l.Result != "unknown" || l.Status != StatusFail {
		t.Errorf("instances line %+v, want unknown, fail", l)
	}
	if l, _ := findLine(rep, "recommendation", ""); l.Result != "CSR" || !strings.Contains(l.Detail, "could not be read") {
		t.Errorf("recommendation line %+v", l)
	}
}

// A wrong secret: the signature line fails, nothing else is claimed, exit non-zero.
func TestPreflightWrongSecret(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) { c.V2.Instances = 1 })
	const wrong = "not-the-secret-of-this-key"
	r, rep := runJSON(t, sim, wrong)
	if r.code != ExitCannot || rep.CanIssue {
		t.Fatalf("exit %d, canIssue %v", r.code, rep.CanIssue)
	}
	l, ok := findLine(rep, "signature", "")
	if !ok || l.Status != StatusFail || !strings.Contains(l.Detail, "SignatureDoesNotMatch") {
		t.Errorf("signature line %+v (found %v): want fail with SignatureDoesNotMatch", l, ok)
	}
	if _, ok := findLine(rep, "ram", ""); ok {
		t.Error("RAM lines reported although the signature was refused")
	}
	if rep.RecommendedOrderAPI != "" {
		t.Errorf("recommended %q without an accepted signature", rep.RecommendedOrderAPI)
	}
}

// Names outside the account's Alidns zones fail their line; --zone is honoured.
func TestPreflightAlidnsZones(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) {
		c.V2.Instances = 1
		c.Zones = []string{"example.com", "sub.example.com"}
	})
	r, rep := runJSON(t, sim, keySecret, "--name", "a.sub.example.com,*.example.com", "--name", "www.example.org")
	if r.code != ExitCannot {
		t.Errorf("exit %d with a name outside the zones", r.code)
	}
	for name, want := range map[string]string{"a.sub.example.com": "sub.example.com", "*.example.com": "example.com", "www.example.org": "no zone"} {
		if l, _ := findLine(rep, "alidns-zone", name); l.Result != want {
			t.Errorf("%s: %+v, want %s", name, l, want)
		}
	}
	r, rep = runJSON(t, sim, keySecret, "--zone", "example.com", "--name", "www.example.com")
	if l, _ := findLine(rep, "alidns-zone", "www.example.com"); r.code != ExitOK || l.Result != "example.com" {
		t.Errorf("with --zone: exit %d, %+v", r.code, l)
	}
}

// Instance ids given: each one is read and its state reported.
func TestPreflightInstanceIDs(t *testing.T) {
	sim := startSim(t, func(c *aliyunsim.Config) { c.V2.Instances = 1 })
	id := sim.State().Instances[0].ID
	r, rep := runJSON(t, sim, keySecret, "--instance-id", id, "--contact-id", "7")
	if r.code != ExitOK {
		t.Fatalf("exit %d:\n%s", r.code, r.stdout)
	}
	if l, _ := findLine(rep, "instance", id); l.Status != StatusOK || !strings.HasPrefix(l.Result, "inactive") {
		t.Errorf("instance line %+v", l)
	}
	if _, ok := findLine(rep, "ram", "yundun-cert:CreateContact"); ok {
		t.Error("CreateContact checked although --contact-id was given")
	}
}

func TestPreflightBadUsage(t *testing.T) {
	sim := startSim(t, nil)
	for _, args := range [][]string{{"--output", "yaml"}, {"--order-api", "Nope"}, {"--dns-provider", "route53"}, {"--contact-id", "x"}, {"extra"}} {
		if r := runPreflight(t, sim, keySecret, args...); r.code != ExitBadUsage {
			t.Errorf("%v: exit %d, want %d", args, r.code, ExitBadUsage)
		}
	}
	var out, errOut bytes.Buffer
	half := map[string]string{envAccessKeyID: keyID}
	if code := Main(context.Background(), []string{"--endpoint", sim.URL(), "--allow-insecure-endpoints"}, func(k string) string { return half[k] }, &out, &errOut); code != ExitNoCreds {
		t.Errorf("half an AccessKey pair: exit %d, want %d", code, ExitNoCreds)
	}
	if st := sim.State(); st.Calls["ApplyCertificate"] != 0 || st.Calls["GetInstanceSummary"] != 0 {
		t.Errorf("a bad usage made calls: %v", st.Calls)
	}
}

// docs/preflight.md explains every kind of line and every exit code.
func TestDocsExplainEveryLine(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "docs", "preflight.md"))
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	for check := range lineOrder {
		if !strings.Contains(doc, "| `"+check+"` |") {
			t.Errorf("docs/preflight.md has no row for the %q lines", check)
		}
	}
	for _, code := range []int{ExitOK, ExitCannot, ExitBadUsage, ExitNoCreds} {
		if !strings.Contains(doc, fmt.Sprintf("| %d |", code)) {
			t.Errorf("docs/preflight.md does not explain exit code %d", code)
		}
	}
}
