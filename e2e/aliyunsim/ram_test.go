package aliyunsim

import (
	"flag"
	"net/http"
	"testing"
)

// A denied action answers the RAM denial before the action sees its parameters, and
// changes nothing; other actions and other keys are unaffected.
func TestRAMDenials(t *testing.T) {
	const otherID, otherSecret = "otherid", "othersecret"
	e := newEnv(t, func(c *Config) {
		c.AccessKeys[otherID] = otherSecret
		c.V2.Instances = 1
		c.Denials = []Denial{
			{AccessKeyID: testID, Action: "ApplyCertificate"},
			{AccessKeyID: testID, Action: "alidns:*"},
			{AccessKeyID: testID, Action: "yundun-cert:DescribeDomains"}, // CAS has no such action: no effect on Alidns
		}
	})
	other := *e.c
	other.id, other.secret = otherID, otherSecret

	cases := []struct {
		name    string
		c       *client
		version string
		action  string
		kv      []string
		status  int
		code    string
	}{
		{"denied write, no parameters", e.c, VersionCAS2020, "ApplyCertificate", nil, http.StatusForbidden, DefaultDenyCode},
		{"denied write, with parameters", e.c, VersionCAS2020, "ApplyCertificate", []string{"InstanceId", "cas_dv-cn-none"}, http.StatusForbidden, DefaultDenyCode},
		{"allowed write, no parameters", e.c, VersionCAS2020, "UpdateInstance", nil, http.StatusBadRequest, "MissingParameter"},
		{"other key, same write", &other, VersionCAS2020, "ApplyCertificate", nil, http.StatusBadRequest, "MissingParameter"},
		{"product wildcard", e.c, VersionAlidns, "DescribeDomains", nil, http.StatusForbidden, DefaultDenyCode},
		{"other key, wildcard product", &other, VersionAlidns, "DescribeDomains", nil, http.StatusOK, ""},
		{"allowed read", e.c, VersionCAS2020, "ListInstances", nil, http.StatusOK, ""},
	}
	for _, tc := range cases {
		r := tc.c.call(tc.version, tc.action, tc.kv...)
		if r.Status != tc.status || r.code() != tc.code {
			t.Errorf("%s: %s %s → %d %q, want %d %q (%s)", tc.name, tc.version, tc.action, r.Status, r.code(), tc.status, tc.code, r.Raw)
		}
		if tc.code == DefaultDenyCode && r.str("RequestId") == "" {
			t.Errorf("%s: a denial without RequestId: %s", tc.name, r.Raw)
		}
	}
	if st := e.sim.State(); st.Calls["ApplyCertificate"] != 3 {
		t.Errorf("ApplyCertificate calls %d, want 3 (denials count as calls)", st.Calls["ApplyCertificate"])
	}
	for _, in := range e.sim.State().Instances {
		if in.Status != "inactive" {
			t.Errorf("instance %s is %s after denied and empty calls", in.ID, in.Status)
		}
	}
}

func TestRAMDenialConfig(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Denials = []Denial{{AccessKeyID: testID, Action: "yundun-cert:DescribePackageState"}}
		c.DenyCode, c.DenyStatus = "NoPermission", http.StatusUnauthorized
	})
	if r := e.c.call(VersionCAS2020, "DescribePackageState", "ProductCode", "digicert-free-1-free"); r.Status != http.StatusUnauthorized || r.code() != "NoPermission" {
		t.Fatalf("got %d %q", r.Status, r.code())
	}
	if _, err := New(Config{AccessKeys: map[string]string{"a": "b"}, DenyStatus: 200}); err == nil {
		t.Error("a denial status of 200 accepted")
	}
}

func TestDenyFlag(t *testing.T) {
	fs := flag.NewFlagSet("sim", flag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse([]string{"--access-key", "a:b", "--deny", "a:ApplyCertificate", "--deny", "a:yundun-cert:UpdateInstance"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config(true)
	if err != nil {
		t.Fatal(err)
	}
	want := []Denial{{"a", "ApplyCertificate"}, {"a", "yundun-cert:UpdateInstance"}}
	if len(cfg.Denials) != len(want) || cfg.Denials[0] != want[0] || cfg.Denials[1] != want[1] {
		t.Fatalf("denials %+v", cfg.Denials)
	}
	for _, bad := range []string{"a", ":ApplyCertificate", "a:", "a:yundun-cert:"} {
		if _, err := ParseDenial(bad); err == nil {
			t.Errorf("--deny %q accepted", bad)
		}
	}
}
