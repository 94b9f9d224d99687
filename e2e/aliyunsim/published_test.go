package aliyunsim

import (
	"fmt"
	"testing"
	"time"
)

// Behaviour the simulator takes from Alibaba's published API references, beyond what the other
// tests of each API cover.

// DescribeCertificateState's "payed" (待申请, pending application) can be what a fresh order
// answers, with no validation details, before it asks for validation.
func TestPayedWindow(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.PayedWindow = 30 * time.Second })
	id := e.order2020(makeCSR(t, testKey(), "p.example.com", nil, nil))
	r := e.state2020(id)
	if r.str("Type") != "payed" {
		t.Fatalf("fresh order: %s", r.Raw)
	}
	for _, k := range []string{"RecordDomain", "RecordValue", "Domain", "Certificate"} {
		if _, has := r.Body[k]; has {
			t.Fatalf("payed answer carries %s: %s", k, r.Raw)
		}
	}
	e.clock.Advance(31 * time.Second)
	if r = e.state2020(id); r.str("Type") != "domain_verify" || r.str("RecordValue") == "" {
		t.Fatalf("after the payed window: %s", r.Raw)
	}
	// Cancelled is "payed" too.
	expectOK(t, e.c.call(VersionCAS2020, "CancelOrderRequest", "OrderId", fmt.Sprint(id)))
	if r = e.state2020(id); r.str("Type") != "payed" {
		t.Fatalf("after cancel: %s", r.Raw)
	}
}

// RecordDomain is a host record: "_dnsauth", or zone-relative "_dnsauth.www"; either way the
// proof lives at _dnsauth.<domain>, and RecordType may be CNAME.
func TestRecordDomainFormsAndCNAME(t *testing.T) {
	for _, c := range []struct {
		form, typ, want string
	}{
		{RecordDomainLabel, "TXT", "_dnsauth"},
		{RecordDomainRelative, "TXT", "_dnsauth.www.dev"},
		{RecordDomainRelative, "CNAME", "_dnsauth.www.dev"},
	} {
		t.Run(c.form+"-"+c.typ, func(t *testing.T) {
			e := newEnv(t, func(cfg *Config) { cfg.RecordDomainForm = c.form; cfg.DNSRecordType = c.typ })
			id := e.order2020(makeCSR(t, testKey(), "www.dev.example.com", nil, nil))
			r := e.state2020(id)
			if r.str("RecordDomain") != c.want || r.str("RecordType") != c.typ {
				t.Fatalf("domain_verify: %s", r.Raw)
			}
			value := r.str("RecordValue")
			// A record of the other type with the same value proves nothing.
			other := "TXT"
			if c.typ == "TXT" {
				other = "CNAME"
			}
			expectOK(t, e.c.call(VersionAlidns, "AddDomainRecord", "DomainName", "example.com", "RR", "_dnsauth.www.dev", "Type", other, "Value", value+".x.example.net"))
			if r = e.state2020(id); r.str("Type") != "domain_verify" {
				t.Fatalf("validated by a %s record: %s", other, r.Raw)
			}
			// Doubling the labels ("_dnsauth.www.dev.www.dev") proves nothing either.
			expectOK(t, e.c.call(VersionAlidns, "AddDomainRecord", "DomainName", "example.com", "RR", "_dnsauth.www.dev.www.dev", "Type", c.typ, "Value", value))
			if r = e.state2020(id); r.str("Type") != "domain_verify" {
				t.Fatalf("validated by a doubled name: %s", r.Raw)
			}
			expectOK(t, e.c.call(VersionAlidns, "DeleteDomainRecord", "RecordId", firstRecordID(t, e, "_dnsauth.www.dev.example.com")))
			expectOK(t, e.c.call(VersionAlidns, "AddDomainRecord", "DomainName", "example.com", "RR", "_dnsauth.www.dev", "Type", c.typ, "Value", value))
			if r = e.state2020(id); r.str("Type") != "certificate" && r.str("Type") != "process" {
				t.Fatalf("not validated by the %s record: %s", c.typ, r.Raw)
			}
		})
	}
}

func firstRecordID(t *testing.T, e *env, name string) string {
	t.Helper()
	r := e.c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", name)
	expectOK(t, r)
	recs := r.Body["DomainRecords"].(map[string]any)["Record"].([]any)
	if len(recs) == 0 {
		t.Fatalf("no record at %s", name)
	}
	return recs[0].(map[string]any)["RecordId"].(string)
}

// An endpoint that no longer serves CAS 2018-07-13 refuses every call of that version.
func TestLegacyAPIRefused(t *testing.T) {
	for code, status := range map[string]int{LegacyInvalidVersion: 400, LegacyInvalidAPI: 404} {
		t.Run(code, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.DVInstances = 1; c.LegacyAPI = code })
			expectErr(t, e.c.call(VersionCAS2018, "DescribeOrderInstanceList", "StartIndex", "1"), status, code)
			expectOK(t, e.c.call(VersionCAS2020, "DescribePackageState"))
		})
	}
	if _, err := New(Config{AccessKeys: map[string]string{"a": "b"}, LegacyAPI: "Gone"}); err == nil {
		t.Fatal("an unknown legacy answer was accepted")
	}
}

// The catalogue is the documented one: an invented code is refused at start.
func TestCatalogueIsDocumented(t *testing.T) {
	for _, code := range []string{"digicert-free-1-free", "symantec-free-1-free", "symantec-dv-1-starter", "geotrust-dv-1-starter",
		"geotrust-dv-w-starter", "globalsign-dv-1-personal", "globalsign-dv-w-advanced"} {
		if _, err := New(Config{AccessKeys: map[string]string{"a": "b"}, Packages: map[string]Package{code: {Quota: 1}}}); err != nil {
			t.Errorf("%s: %v", code, err)
		}
	}
	if _, err := New(Config{AccessKeys: map[string]string{"a": "b"}, Packages: map[string]Package{"geotrust-dv-m-starter": {Quota: 1}}}); err == nil {
		t.Error("an undocumented product code was accepted")
	}
}
