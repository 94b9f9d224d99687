package aliyunsim

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func dvArgs(instance, domain, vtype string) []string {
	return []string{"InstanceId", instance, "Domain", domain, "DomainVerifyType", vtype, "Username", "Ops",
		"Email", "ops@example.com", "Mobile", "13800000000", "Province", "Zhejiang", "City", "Hangzhou"}
}

func instances(t *testing.T, e *env, kv ...string) (int64, []map[string]any) {
	t.Helper()
	r := e.c.call(VersionCAS2018, "DescribeOrderInstanceList", kv...)
	expectOK(t, r)
	var out []map[string]any
	for _, it := range r.Body["OrderList"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return r.num("TotalCount"), out
}

func TestDescribeOrderInstanceList(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DVInstances = 12 })
	expectErr(t, e.c.call(VersionCAS2018, "DescribeOrderInstanceList"), 400, "MissingParameter")
	total, page0 := instances(t, e, "StartIndex", "0")
	_, page1 := instances(t, e, "StartIndex", "1")
	_, page2 := instances(t, e, "StartIndex", "2")
	if total != 12 || len(page0) != 10 || len(page1) != 10 || len(page2) != 2 {
		t.Fatalf("paging: total %d, pages %d/%d/%d", total, len(page0), len(page1), len(page2))
	}
	if page0[0]["InstanceId"] != page1[0]["InstanceId"] || page2[0]["InstanceId"] == page1[0]["InstanceId"] {
		t.Fatal("StartIndex 0 and 1 should both be the first page")
	}
	for _, it := range page0 {
		id := it["InstanceId"].(string)
		if !strings.HasPrefix(id, "cas-cn-") || it["Status"] != "PAYED" || it["CertType"] != "DV" {
			t.Fatalf("instance: %v", it)
		}
	}
	if _, small := instances(t, e, "StartIndex", "1", "ShowSize", "5"); len(small) != 5 {
		t.Fatalf("ShowSize 5: %d", len(small))
	}
	expectErr(t, e.c.call(VersionCAS2018, "DescribeOrderInstanceList", "StartIndex", "x"), 400, "InvalidParameter")
}

func TestDVOrderDNS(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DVInstances = 2; c.IssueDelay = time.Minute })
	_, list := instances(t, e, "StartIndex", "1")
	inst := list[0]["InstanceId"].(string)

	expectErr(t, e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", inst), 403, "OrderStateError")
	expectOK(t, e.c.call(VersionCAS2018, "CreateDVOrderAudit", dvArgs(inst, "dv.example.com", "DNS")...))
	// One instance, one certificate.
	expectErr(t, e.c.call(VersionCAS2018, "CreateDVOrderAudit", dvArgs(inst, "dv2.example.com", "DNS")...), 403, "OrderStateError")

	r := e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", inst)
	expectOK(t, r)
	if r.str("OrderStatus") != "checking" || r.str("CheckType") != "DNS" || r.str("CheckName") != "_dnsauth.dv.example.com" || r.str("CheckValue") == "" {
		t.Fatalf("checking: %s", r.Raw)
	}
	e.addTXT("example.com", "_dnsauth.dv", r.str("CheckValue"))
	if r = e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", inst); r.str("OrderStatus") != "checking" {
		t.Fatalf("issue delay not applied: %s", r.Raw)
	}
	if _, l := instances(t, e, "StartIndex", "1"); l[0]["Status"] != "CHECKING" {
		t.Fatalf("instance while checking: %v", l[0])
	}
	e.clock.Advance(time.Minute)
	r = e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", inst)
	if r.str("OrderStatus") != "issued" {
		t.Fatalf("issued: %s", r.Raw)
	}
	leaf := verifyChain(t, r.str("Certificate"), e.sim.RootPEM(), "dv.example.com")
	key, err := parseKeyPEM([]byte(r.str("PrivateKey")))
	if err != nil || !publicKeysEqual(leaf.PublicKey, key.Public()) {
		t.Fatalf("PrivateKey does not match: %v", err)
	}
	if !strings.Contains(r.str("PrivateKey"), "BEGIN RSA PRIVATE KEY") {
		t.Fatalf("want a PKCS#1 RSA key")
	}
	// Asking again is safe and answers the same certificate.
	if again := e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", inst); again.str("Certificate") != r.str("Certificate") {
		t.Fatal("second DescribeDVOrderResult answered another certificate")
	}
	if _, l := instances(t, e, "StartIndex", "1"); l[0]["Status"] != "ISSUED" || l[1]["Status"] != "PAYED" {
		t.Fatalf("instances after issue: %v", l)
	}

	// The certificate is in the user certificate list.
	r = e.c.call(VersionCAS2018, "DescribeUserCertificateList")
	expectOK(t, r)
	certs := r.Body["CertificateList"].([]any)
	if r.num("TotalCount") != 1 || r.num("ShowSize") != 50 || r.num("CurrentPage") != 1 {
		t.Fatalf("list: %s", r.Raw)
	}
	item := certs[0].(map[string]any)
	if item["common"] != "dv.example.com" || item["buyInAliyun"] != true || item["id"] == nil {
		t.Fatalf("lower-camel item: %v", item)
	}
	r = e.c.call(VersionCAS2018, "DescribeUserCertificateDetail", "CertId", fmt.Sprint(int64(item["id"].(float64))))
	expectOK(t, r)
	if r.str("Cert") == "" || r.str("Key") == "" || r.str("Common") != "dv.example.com" {
		t.Fatalf("detail: %s", r.Raw)
	}
	// The BUY listing of the 2020 API sees the instance too.
	r = e.c.call(VersionCAS2020, "ListUserCertificateOrder", "OrderType", "BUY", "Status", "ISSUED")
	if r.num("TotalCount") != 1 {
		t.Fatalf("BUY list: %s", r.Raw)
	}
}

func TestDVOrderFileAndFail(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DVInstances = 3; c.FailDomains = []string{"nope.example"} })
	_, list := instances(t, e, "StartIndex", "1")
	a, b := list[0]["InstanceId"].(string), list[1]["InstanceId"].(string)

	expectOK(t, e.c.call(VersionCAS2018, "CreateDVOrderAudit", dvArgs(a, "web.example.org", "FILE")...))
	r := e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", a)
	if r.str("CheckType") != "FILE" || r.str("CheckName") != "web.example.org/.well-known/pki-validation/fileauth.txt" {
		t.Fatalf("FILE: %s", r.Raw)
	}
	req := e.c.do(mustRequest(t, "PUT", e.url+"/_sim/files?url="+r.str("CheckName"), r.str("CheckValue")))
	if req.Status != 204 {
		t.Fatalf("PUT file: %d", req.Status)
	}
	if r = e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", a); r.str("OrderStatus") != "issued" {
		t.Fatalf("FILE issued: %s", r.Raw)
	}

	expectOK(t, e.c.call(VersionCAS2018, "CreateDVOrderAudit", dvArgs(b, "x.nope.example", "DNS")...))
	if r = e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", b); r.str("OrderStatus") != "checked_fail" {
		t.Fatalf("fail domain: %s", r.Raw)
	}
	if _, l := instances(t, e, "StartIndex", "1"); l[1]["Status"] != "CHECKED_FAIL" {
		t.Fatalf("instance: %v", l[1])
	}
}

func TestDVOrderErrors(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DVInstances = 1 })
	_, list := instances(t, e, "StartIndex", "1")
	inst := list[0]["InstanceId"].(string)
	with := func(k, v string) []string {
		args := dvArgs(inst, "ok.example.com", "DNS")
		for i := 0; i < len(args); i += 2 {
			if args[i] == k {
				if v == "" {
					return append(args[:i:i], args[i+2:]...)
				}
				args[i+1] = v
			}
		}
		return args
	}
	cases := []struct {
		name   string
		args   []string
		status int
		code   string
	}{
		{"missing City", with("City", ""), 400, "MissingParameter"},
		{"missing Mobile", with("Mobile", ""), 400, "MissingParameter"},
		{"unknown instance", with("InstanceId", "cas-cn-nope"), 404, "InvalidInstanceId.NotFound"},
		{"bad verify type", with("DomainVerifyType", "EMAIL"), 400, "InvalidParameter.DomainVerifyType"},
		{"bad email", with("Email", "x"), 400, "InvalidParameter.Email"},
		{"bad mobile", with("Mobile", "abc"), 400, "InvalidParameter.Mobile"},
		{"bad domain", with("Domain", "-bad-.example.com"), 400, "InvalidParameter.Domain"},
		{"two domains", with("Domain", "a.example.com,b.example.com"), 400, "InvalidParameter.DomainCount"},
		{"wildcard", with("Domain", "*.example.com"), 400, "InvalidParameter.Wildcard"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			expectErr(t, e.c.call(VersionCAS2018, "CreateDVOrderAudit", c.args...), c.status, c.code)
		})
	}
	if _, l := instances(t, e, "StartIndex", "1"); l[0]["Status"] != "PAYED" {
		t.Fatalf("a refused order used the instance: %v", l[0])
	}
	expectErr(t, e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", "cas-cn-nope"), 404, "InvalidInstanceId.NotFound")
	expectErr(t, e.c.call(VersionCAS2018, "DescribeDVOrderResult"), 400, "MissingParameter")
}

func TestUserCertificates2018(t *testing.T) {
	e := newEnv(t, nil)
	cert, key := selfSigned(t, "legacy.example.com")
	r := e.c.call(VersionCAS2018, "CreateUserCertificate", "Name", "legacy", "Cert", cert, "Key", key)
	expectOK(t, r)
	id := fmt.Sprint(r.num("CertId"))
	expectErr(t, e.c.call(VersionCAS2018, "CreateUserCertificate", "Name", "legacy", "Cert", cert, "Key", key), 400, "InvalidParameter.NameDuplicate")
	expectErr(t, e.c.call(VersionCAS2018, "CreateUserCertificate", "Name", "k", "Cert", cert), 400, "MissingParameter")
	r = e.c.call(VersionCAS2018, "DescribeUserCertificateDetail", "CertId", id)
	expectOK(t, r)
	if r.str("Name") != "legacy" || r.Body["BuyInAliyun"] != false || r.str("Sans") != "legacy.example.com" {
		t.Fatalf("detail: %s", r.Raw)
	}
	if r := e.c.call(VersionCAS2018, "DescribeUserCertificateList", "ShowSize", "1", "CurrentPage", "2"); len(r.Body["CertificateList"].([]any)) != 0 || r.num("TotalCount") != 1 {
		t.Fatalf("page 2: %s", r.Raw)
	}
	expectOK(t, e.c.call(VersionCAS2018, "DeleteUserCertificate", "CertId", id))
	expectErr(t, e.c.call(VersionCAS2018, "DescribeUserCertificateDetail", "CertId", id), 404, "InvalidCertId.NotFound")
	expectErr(t, e.c.call(VersionCAS2018, "DeleteUserCertificate", "CertId", "0"), 400, "InvalidParameter")
}
