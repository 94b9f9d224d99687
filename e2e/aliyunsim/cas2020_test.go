package aliyunsim

import (
	"crypto"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"
)

func contactArgs(extra ...string) []string {
	return append([]string{"Username", "Ops", "Phone", "13800000000", "Email", "ops@example.com", "ValidateType", "DNS"}, extra...)
}

func TestCSROrderDNSValidation(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ValidationDelay = time.Minute; c.IssueDelay = 2 * time.Minute })
	key := testKey()
	id := e.order2020(makeCSR(t, key, "www.example.com", []string{"www.example.com", "api.example.com"}, nil), "ProductCode", "globalsign-dv-w-advanced")

	r := e.state2020(id)
	if r.str("Type") != "domain_verify" || r.str("ValidateType") != "DNS" || r.str("RecordDomain") != "_dnsauth" ||
		r.str("RecordType") != "TXT" || r.str("RecordValue") == "" || r.str("Domain") != "www.example.com" {
		t.Fatalf("domain_verify answer: %s", r.Raw)
	}
	token := r.str("RecordValue")

	// Time alone does not validate in dns mode.
	e.clock.Advance(time.Hour)
	if r = e.state2020(id); r.str("Type") != "domain_verify" {
		t.Fatalf("validated without a record: %s", r.Raw)
	}
	// A wrong value, or the right value at the wrong name, does not either.
	e.addTXT("example.com", "_dnsauth.www", "wrong")
	e.addTXT("example.com", "_dnsauth", token)
	if r = e.state2020(id); r.str("Type") != "domain_verify" {
		t.Fatalf("validated by a wrong record: %s", r.Raw)
	}
	// The first domain's record: the order now asks about the second.
	e.addTXT("example.com", "_dnsauth.www", token)
	if r = e.state2020(id); r.str("Type") != "domain_verify" || r.str("Domain") != "api.example.com" {
		t.Fatalf("after the first record: %s", r.Raw)
	}
	e.addTXT("example.com", "_dnsauth.api", token)
	if r = e.state2020(id); r.str("Type") != "domain_verify" {
		t.Fatalf("validation delay not applied: %s", r.Raw)
	}
	e.clock.Advance(time.Minute)
	if r = e.state2020(id); r.str("Type") != "process" {
		t.Fatalf("want process: %s", r.Raw)
	}
	e.clock.Advance(2 * time.Minute)
	r = e.state2020(id)
	if r.str("Type") != "certificate" || r.str("PrivateKey") != "" {
		t.Fatalf("want certificate: %s", r.Raw)
	}
	// The SDK model of DescribeCertificateState has no CertId.
	if _, has := r.Body["CertId"]; has {
		t.Fatalf("DescribeCertificateState answers CertId: %s", r.Raw)
	}
	leaf := verifyChain(t, r.str("Certificate"), e.sim.RootPEM(), "api.example.com")
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		t.Fatal("the certificate is not for the CSR's key")
	}
	if leaf.Subject.CommonName != "www.example.com" || strings.Join(leaf.DNSNames, ",") != "www.example.com,api.example.com" {
		t.Fatalf("names: CN %s SANs %v", leaf.Subject.CommonName, leaf.DNSNames)
	}
	if days := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24; days != 365 {
		t.Fatalf("validity %v days", days)
	}
	st := e.sim.State()
	if p := st.Packages["globalsign-dv-w-advanced"]; p.Used != 1 || p.Issued != 1 || p.Total != 5 {
		t.Fatalf("package: %+v", p)
	}
	if len(st.UserCertificates) != 1 || st.UserCertificates[0].OrderID != id {
		t.Fatalf("user certificates: %+v", st.UserCertificates)
	}
}

func TestWildcardDNSValidationUsesBaseDomain(t *testing.T) {
	e := newEnv(t, nil)
	id := e.order2020(makeCSR(t, testKey(), "*.example.com", nil, nil), "ProductCode", "symantec-dv-1-starter")
	r := e.state2020(id)
	if r.str("Domain") != "*.example.com" {
		t.Fatalf("answer: %s", r.Raw)
	}
	e.addTXT("example.com", "_dnsauth", r.str("RecordValue"))
	if r = e.state2020(id); r.str("Type") != "certificate" {
		t.Fatalf("want certificate: %s", r.Raw)
	}
	verifyChain(t, r.str("Certificate"), e.sim.RootPEM(), "x.example.com")
}

func TestFileValidation(t *testing.T) {
	e := newEnv(t, nil)
	csr := makeCSR(t, testKey(), "files.example.org", nil, nil)
	r := e.c.call(VersionCAS2020, "CreateCertificateWithCsrRequest", append([]string{"Csr", csr}, contactArgs("ValidateType", "FILE")...)...)
	expectOK(t, r)
	id := r.num("OrderId")
	r = e.state2020(id)
	if r.str("ValidateType") != "FILE" || r.str("Uri") != "/.well-known/pki-validation/fileauth.txt" || r.str("Content") == "" || r.str("Domain") != "files.example.org" {
		t.Fatalf("FILE answer: %s", r.Raw)
	}
	if err := e.sim.PutFile("files.example.org/.well-known/pki-validation/fileauth.txt", "wrong"); err != nil {
		t.Fatal(err)
	}
	if e.state2020(id).str("Type") != "domain_verify" {
		t.Fatal("validated with the wrong content")
	}
	if err := e.sim.PutFile("http://files.example.org"+r.str("Uri"), r.str("Content")+"\n"); err != nil {
		t.Fatal(err)
	}
	if r = e.state2020(id); r.str("Type") != "certificate" {
		t.Fatalf("want certificate: %s", r.Raw)
	}
}

func TestAutoValidationAndCRLF(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Validation = ValidationAuto; c.CertCRLF = true; c.Zones = nil })
	id := e.order2020(makeCSR(t, testKey(), "", []string{"auto.example.net"}, nil))
	r := e.state2020(id)
	if r.str("Type") != "certificate" || !strings.Contains(r.str("Certificate"), "\r\n") {
		t.Fatalf("want a CRLF certificate at once: %s", r.Raw)
	}
	leaf := verifyChain(t, strings.ReplaceAll(r.str("Certificate"), "\r\n", "\n"), e.sim.RootPEM(), "auto.example.net")
	if leaf.Subject.CommonName != "auto.example.net" {
		t.Fatalf("CN of a CN-less CSR: %q", leaf.Subject.CommonName)
	}
	if days := leaf.NotAfter.Sub(leaf.NotBefore).Hours() / 24; days != 90 {
		t.Fatalf("free product validity %v days", days)
	}
	// Delays changed at run time apply to the next evaluation.
	e.sim.SetDelays(time.Minute, time.Minute)
	id = e.order2020(makeCSR(t, testKey(), "later.example.net", nil, nil))
	for _, want := range []string{"domain_verify", "process", "certificate"} {
		if r := e.state2020(id); r.str("Type") != want {
			t.Fatalf("want %s: %s", want, r.Raw)
		}
		e.clock.Advance(time.Minute)
	}
}

func TestCreateCertificateRequestGeneratesKey(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Validation = ValidationAuto })
	r := e.c.call(VersionCAS2020, "CreateCertificateRequest", append([]string{"Domain", "gen.example.com"}, contactArgs()...)...)
	expectOK(t, r)
	r = e.state2020(r.num("OrderId"))
	if r.str("Type") != "certificate" || r.str("PrivateKey") == "" {
		t.Fatalf("answer: %s", r.Raw)
	}
	leaf := verifyChain(t, r.str("Certificate"), e.sim.RootPEM(), "gen.example.com")
	key, err := parseKeyPEM([]byte(r.str("PrivateKey")))
	if err != nil {
		t.Fatal(err)
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		t.Fatal("PrivateKey does not match the certificate")
	}
	if k, ok := key.Public().(interface{ Size() int }); !ok || k.Size() != 256 {
		t.Fatalf("want RSA 2048, got %T", key.Public())
	}
}

func TestCreateCertificateForPackage(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Validation = ValidationAuto })
	r := e.c.call(VersionCAS2020, "CreateCertificateForPackageRequest", "ProductCode", "globalsign-dv-w-advanced", "Domain", "a.example.com,b.example.com")
	expectOK(t, r)
	st := e.state2020(r.num("OrderId"))
	leaf := verifyChain(t, st.str("Certificate"), e.sim.RootPEM(), "b.example.com")
	if len(leaf.DNSNames) != 2 || st.str("PrivateKey") == "" {
		t.Fatalf("names %v", leaf.DNSNames)
	}
	// With a CSR, the CSR's names win over Domain.
	r = e.c.call(VersionCAS2020, "CreateCertificateForPackageRequest", "ProductCode", "globalsign-dv-w-advanced", "Domain", "ignored.example.com",
		"Csr", makeCSR(t, testKey(), "csr.example.com", nil, nil))
	expectOK(t, r)
	st = e.state2020(r.num("OrderId"))
	if leaf := verifyChain(t, st.str("Certificate"), e.sim.RootPEM(), "csr.example.com"); len(leaf.DNSNames) != 1 || st.str("PrivateKey") != "" {
		t.Fatalf("CSR order: %v", leaf.DNSNames)
	}
	for name, kv := range map[string][]string{
		"six domains":   {"ProductCode", "globalsign-dv-w-advanced", "Domain", "a.com,b.com,c.com,d.com,e.com,f.com"},
		"mixed":         {"ProductCode", "globalsign-dv-w-advanced", "Domain", "a.example.com,*.example.com"},
		"no domain":     {"ProductCode", "globalsign-dv-w-advanced"},
		"bad vtype":     {"ProductCode", "globalsign-dv-w-advanced", "Domain", "a.example.com", "ValidateType", "HTTP"},
		"file wildcard": {"ProductCode", "globalsign-dv-w-advanced", "Domain", "*.example.com", "ValidateType", "FILE"},
	} {
		r := e.c.call(VersionCAS2020, "CreateCertificateForPackageRequest", kv...)
		if r.Status != 400 {
			t.Errorf("%s: accepted: %s", name, r.Raw)
		}
	}
	if used := e.sim.State().Packages["globalsign-dv-w-advanced"].Used; used != 2 {
		t.Fatalf("refused creates used quota: %d", used)
	}
}

func TestCreateErrors(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Packages["geotrust-dv-1-starter"] = Package{Quota: 1, MaxNames: 1} })
	key := testKey()
	good := makeCSR(t, key, "ok.example.com", nil, nil)

	tampered := func() string {
		b, _ := pem.Decode([]byte(good))
		der := append([]byte(nil), b.Bytes...)
		der[len(der)-3] ^= 0xff // inside the signature
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	}()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)

	cases := []struct {
		name string
		kv   []string
		code string
	}{
		{"missing Csr", contactArgs(), "MissingParameter"},
		{"missing Email", []string{"Csr", good, "Username", "a", "Phone", "13800000000", "ValidateType", "DNS"}, "MissingParameter"},
		{"missing ValidateType", []string{"Csr", good, "Username", "a", "Phone", "13800000000", "Email", "a@b.com"}, "MissingParameter"},
		{"bad email", append([]string{"Csr", good}, contactArgs("Email", "not-an-address")...), "InvalidParameter.Email"},
		{"bad phone", append([]string{"Csr", good}, contactArgs("Phone", "call me")...), "InvalidParameter.Phone"},
		{"bad validate type", append([]string{"Csr", good}, contactArgs("ValidateType", "EMAIL")...), "InvalidParameter.ValidateType"},
		{"not PEM", append([]string{"Csr", "hello"}, contactArgs()...), "InvalidParameter.Csr"},
		{"certificate PEM", append([]string{"Csr", string(e.sim.RootPEM())}, contactArgs()...), "InvalidParameter.Csr"},
		{"bad signature", append([]string{"Csr", tampered}, contactArgs()...), "InvalidParameter.Csr"},
		{"RSA 1024", append([]string{"Csr", makeCSR(t, rsaKey(t, 1024), "ok.example.com", nil, nil)}, contactArgs()...), "InvalidParameter.KeyType"},
		{"P-521", append([]string{"Csr", makeCSR(t, ecKey(t, elliptic.P521()), "ok.example.com", nil, nil)}, contactArgs()...), "InvalidParameter.KeyType"},
		{"Ed25519", append([]string{"Csr", makeCSR(t, edKey, "ok.example.com", nil, nil)}, contactArgs()...), "InvalidParameter.KeyType"},
		{"IP SAN", append([]string{"Csr", makeCSR(t, key, "ok.example.com", nil, []net.IP{net.IPv4(10, 0, 0, 1)})}, contactArgs()...), "InvalidParameter.Csr"},
		{"IP CN", append([]string{"Csr", makeCSR(t, key, "10.0.0.1", nil, nil)}, contactArgs()...), "InvalidParameter.Csr"},
		{"no names", append([]string{"Csr", makeCSR(t, key, "", nil, nil)}, contactArgs()...), "InvalidParameter.Csr"},
		{"bad name", append([]string{"Csr", makeCSR(t, key, "under_score.example.com", nil, nil)}, contactArgs()...), "InvalidParameter.Domain"},
		{"single label", append([]string{"Csr", makeCSR(t, key, "localhost", nil, nil)}, contactArgs()...), "InvalidParameter.Domain"},
		{"wildcard on free", append([]string{"Csr", makeCSR(t, key, "*.example.com", nil, nil)}, contactArgs()...), "InvalidParameter.Wildcard"},
		{"two names on free", append([]string{"Csr", makeCSR(t, key, "a.example.com", []string{"b.example.com"}, nil)}, contactArgs()...), "InvalidParameter.DomainCount"},
		{"unknown product", append([]string{"Csr", good}, contactArgs("ProductCode", "nope")...), "NotFoundPackage"},
		{"product without package", append([]string{"Csr", good}, contactArgs("ProductCode", "symantec-free-1-free")...), "NotFoundPackage"},
		{"multi-name package cut to 1", append([]string{"Csr", makeCSR(t, key, "a.example.com", []string{"b.example.com"}, nil)}, contactArgs("ProductCode", "geotrust-dv-1-starter")...), "InvalidParameter.DomainCount"},
		{"two domains in CreateCertificateRequest", nil, "InvalidParameter.Domain"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var r result
			if c.kv == nil {
				r = e.c.call(VersionCAS2020, "CreateCertificateRequest", append([]string{"Domain", "a.example.com,b.example.com"}, contactArgs()...)...)
			} else {
				r = e.c.call(VersionCAS2020, "CreateCertificateWithCsrRequest", c.kv...)
			}
			status := 400
			if c.code == "NotFoundPackage" {
				status = 404 // the CAS error table's status for it
			}
			expectErr(t, r, status, c.code)
		})
	}
	st := e.sim.State()
	if len(st.Orders) != 0 || st.Packages["digicert-free-1-free"].Used != 0 {
		t.Fatalf("a refused create left an order: %+v", st)
	}
}

func TestStrictCN(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.StrictCN = true })
	r := e.c.call(VersionCAS2020, "CreateCertificateWithCsrRequest", append([]string{"Csr", makeCSR(t, testKey(), "", []string{"nocn.example.com"}, nil)}, contactArgs()...)...)
	expectErr(t, r, 400, "InvalidParameter.CommonName")
	e.order2020(makeCSR(t, testKey(), "cn.example.com", nil, nil))
}

func TestCSRKeyTypes(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Validation = ValidationAuto
		c.Packages = map[string]Package{DefaultProduct: {Quota: 10}}
	})
	for name, key := range map[string]crypto.Signer{"RSA 2048": rsaKey(t, 2048), "P-384": ecKey(t, elliptic.P384())} {
		id := e.order2020(makeCSR(t, key, "keys.example.com", nil, nil))
		r := e.state2020(id)
		if r.str("Type") != "certificate" {
			t.Fatalf("%s: %s", name, r.Raw)
		}
		leaf := verifyChain(t, r.str("Certificate"), e.sim.RootPEM(), "keys.example.com")
		if !publicKeysEqual(leaf.PublicKey, key.Public()) {
			t.Fatalf("%s: wrong key in the certificate", name)
		}
	}
}

func TestQuotaCancelDelete(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Packages = map[string]Package{DefaultProduct: {Quota: 2}} })
	csr := makeCSR(t, testKey(), "q.example.com", nil, nil)
	a := e.order2020(csr)
	b := e.order2020(csr) // no idempotency: a second, identical order
	r := e.c.call(VersionCAS2020, "CreateCertificateWithCsrRequest", append([]string{"Csr", csr}, contactArgs()...)...)
	expectErr(t, r, 404, "NotRemainCount")

	r = e.c.call(VersionCAS2020, "DescribePackageState", "ProductCode", DefaultProduct)
	expectOK(t, r)
	if r.num("TotalCount") != 2 || r.num("UsedCount") != 2 || r.num("IssuedCount") != 0 || r.str("ProductCode") != DefaultProduct {
		t.Fatalf("package state: %s", r.Raw)
	}
	expectErr(t, e.c.call(VersionCAS2020, "DescribePackageState", "ProductCode", "geotrust-dv-1-starter"), 404, "NotFoundPackage")

	// Delete needs verify_fail or payed.
	expectErr(t, e.c.call(VersionCAS2020, "DeleteCertificateRequest", "OrderId", fmt.Sprint(a)), 403, "DeleteFail")
	expectOK(t, e.c.call(VersionCAS2020, "CancelOrderRequest", "OrderId", fmt.Sprint(a)))
	if r := e.state2020(a); r.str("Type") != "payed" {
		t.Fatalf("after cancel: %s", r.Raw)
	}
	expectErr(t, e.c.call(VersionCAS2020, "CancelOrderRequest", "OrderId", fmt.Sprint(a)), 403, "OrderStateError")
	if used := e.sim.State().Packages[DefaultProduct].Used; used != 2 {
		t.Fatalf("cancel alone returned quota: used %d", used)
	}
	expectOK(t, e.c.call(VersionCAS2020, "DeleteCertificateRequest", "OrderId", fmt.Sprint(a)))
	if used := e.sim.State().Packages[DefaultProduct].Used; used != 1 {
		t.Fatalf("delete did not return quota: used %d", used)
	}
	expectErr(t, e.c.call(VersionCAS2020, "DescribeCertificateState", "OrderId", fmt.Sprint(a)), 404, "NotFoundOrder")
	expectErr(t, e.c.call(VersionCAS2020, "DeleteCertificateRequest", "OrderId", fmt.Sprint(a)), 404, "NotFoundOrder")
	expectErr(t, e.c.call(VersionCAS2020, "DescribeCertificateState", "OrderId", "abc"), 400, "InvalidParameter")
	expectErr(t, e.c.call(VersionCAS2020, "DescribeCertificateState"), 400, "MissingParameter")

	// An issued order can be neither cancelled nor deleted.
	e.sim.SetValidation(ValidationAuto)
	if r := e.state2020(b); r.str("Type") != "certificate" {
		t.Fatalf("SetValidation(auto) did not validate the waiting order: %s", r.Raw)
	}
	expectErr(t, e.c.call(VersionCAS2020, "CancelOrderRequest", "OrderId", fmt.Sprint(b)), 403, "OrderStateError")
	expectErr(t, e.c.call(VersionCAS2020, "DeleteCertificateRequest", "OrderId", fmt.Sprint(b)), 403, "DeleteFail")
	r = e.c.call(VersionCAS2020, "DescribePackageState")
	if r.num("UsedCount") != 1 || r.num("IssuedCount") != 1 {
		t.Fatalf("package state: %s", r.Raw)
	}
}

func TestFailDomain(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.FailDomains = []string{"bad.example"}; c.ValidationDelay = time.Minute })
	id := e.order2020(makeCSR(t, testKey(), "www.bad.example", nil, nil))
	if r := e.state2020(id); r.str("Type") != "domain_verify" {
		t.Fatalf("before the delay: %s", r.Raw)
	}
	e.clock.Advance(time.Minute)
	if r := e.state2020(id); r.str("Type") != "verify_fail" {
		t.Fatalf("want verify_fail: %s", r.Raw)
	}
	expectOK(t, e.c.call(VersionCAS2020, "DeleteCertificateRequest", "OrderId", fmt.Sprint(id)))
	if used := e.sim.State().Packages[DefaultProduct].Used; used != 0 {
		t.Fatalf("used %d", used)
	}
}

func TestListUserCertificateOrder(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Packages = map[string]Package{DefaultProduct: {Quota: 10}}
		c.FailDomains = []string{"fail.example.com"}
	})
	ids := map[string]int64{}
	for _, d := range []string{"one.example.com", "two.example.com", "three.example.org", "x.fail.example.com"} {
		ids[d] = e.order2020(makeCSR(t, testKey(), d, nil, nil))
		e.clock.Advance(time.Second)
	}
	// Validate "one" only.
	e.addTXT("example.com", "_dnsauth.one", e.state2020(ids["one.example.com"]).str("RecordValue"))
	e.state2020(ids["one.example.com"])
	expectOK(t, e.c.call(VersionCAS2020, "CancelOrderRequest", "OrderId", fmt.Sprint(ids["two.example.com"])))

	list := func(kv ...string) (int64, []map[string]any) {
		t.Helper()
		r := e.c.call(VersionCAS2020, "ListUserCertificateOrder", kv...)
		expectOK(t, r)
		var items []map[string]any
		for _, it := range r.Body["CertificateOrderList"].([]any) {
			items = append(items, it.(map[string]any))
		}
		return r.num("TotalCount"), items
	}
	total, items := list()
	if total != 4 || len(items) != 4 {
		t.Fatalf("all: %d %v", total, items)
	}
	// Newest first.
	if int64(items[0]["OrderId"].(float64)) != ids["x.fail.example.com"] || int64(items[3]["OrderId"].(float64)) != ids["one.example.com"] {
		t.Fatalf("order: %v", items)
	}
	for _, it := range items {
		// CPACK items carry only what the API reference lists for package orders.
		for k := range it {
			switch k {
			case "OrderId", "Domain", "Status", "BuyDate", "CertStartTime", "CertEndTime":
			default:
				t.Fatalf("CPACK item with %s: %v", k, it)
			}
		}
		for _, k := range []string{"OrderId", "Domain", "Status", "BuyDate"} {
			if _, ok := it[k]; !ok {
				t.Fatalf("item without %s: %v", k, it)
			}
		}
		if ct := int64(it["BuyDate"].(float64)); ct < e.clock.Now().Add(-time.Minute).UnixMilli() || ct > e.clock.Now().UnixMilli() {
			t.Fatalf("BuyDate %d is not unix ms", ct)
		}
	}
	statusOf := map[string]string{}
	for _, it := range items {
		statusOf[it["Domain"].(string)] = it["Status"].(string)
	}
	want := map[string]string{"one.example.com": "ISSUED", "two.example.com": "PAYED", "three.example.org": "CHECKING", "x.fail.example.com": "CHECKED_FAIL"}
	for d, s := range want {
		if statusOf[d] != s {
			t.Errorf("%s: status %s, want %s", d, statusOf[d], s)
		}
	}
	_, issued := list("Status", "ISSUED")
	if len(issued) != 1 || issued[0]["CertEndTime"] == nil || issued[0]["CertificateId"] != nil {
		t.Fatalf("ISSUED: %v", issued)
	}
	if total, _ := list("Status", "CHECKING", "Keyword", "three"); total != 1 {
		t.Fatalf("CHECKING+three: %d", total)
	}
	if total, _ := list("Keyword", "EXAMPLE.COM"); total != 3 {
		t.Fatalf("Keyword example.com: %d", total)
	}
	if total, page := list("ShowSize", "3", "CurrentPage", "2"); total != 4 || len(page) != 1 {
		t.Fatalf("page 2: %d %v", total, page)
	}
	if _, page := list("ShowSize", "3", "CurrentPage", "3"); len(page) != 0 {
		t.Fatalf("page 3: %v", page)
	}
	if total, certs := list("OrderType", "CERT"); total != 1 || certs[0]["CommonName"] != "one.example.com" {
		t.Fatalf("CERT: %v", certs)
	}
	if total, _ := list("OrderType", "UPLOAD"); total != 0 {
		t.Fatalf("UPLOAD: %d", total)
	}
	expectErr(t, e.c.call(VersionCAS2020, "ListUserCertificateOrder", "Status", "DONE"), 400, "InvalidParameter.Status")
	expectErr(t, e.c.call(VersionCAS2020, "ListUserCertificateOrder", "OrderType", "ALL"), 400, "InvalidParameter.OrderType")
	expectErr(t, e.c.call(VersionCAS2020, "ListUserCertificateOrder", "ShowSize", "0"), 400, "InvalidParameter")
}

// selfSigned makes a certificate and key to upload.
func selfSigned(t *testing.T, cn string) (certPEM, keyPEM string) {
	t.Helper()
	key := ecKey(t, elliptic.P256())
	tmpl := &x509.Certificate{SerialNumber: randomSerial(), DNSNames: []string{cn}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	tmpl.Subject.CommonName = cn
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	return string(pemBlock("CERTIFICATE", der)), string(pemBlock("PRIVATE KEY", kd))
}

func TestUserCertificates2020(t *testing.T) {
	e := newEnv(t, nil)
	cert, key := selfSigned(t, "up.example.com")
	_, otherKey := selfSigned(t, "other.example.com")
	r := e.c.call(VersionCAS2020, "UploadUserCertificate", "Name", "up", "Cert", cert, "Key", key)
	expectOK(t, r)
	id := fmt.Sprint(r.num("CertId"))
	for name, c := range map[string]struct {
		kv   []string
		code string
	}{
		"duplicate name": {[]string{"Name", "up", "Cert", cert, "Key", key}, "InvalidParameter.NameDuplicate"},
		"no name":        {[]string{"Cert", cert, "Key", key}, "MissingParameter"},
		"no key":         {[]string{"Name", "x", "Cert", cert}, "MissingParameter"},
		"bad cert":       {[]string{"Name", "x", "Cert", "junk", "Key", key}, "InvalidParameter.Cert"},
		"bad key":        {[]string{"Name", "x", "Cert", cert, "Key", "junk"}, "InvalidParameter.Key"},
		"other key":      {[]string{"Name", "x", "Cert", cert, "Key", otherKey}, "InvalidParameter.KeyMismatch"},
		"long name":      {[]string{"Name", strings.Repeat("n", 65), "Cert", cert, "Key", key}, "InvalidParameter"},
		"sm2":            {[]string{"Name", "x", "SignCert", cert}, "InvalidParameter.Sm2"},
	} {
		expectErr(t, e.c.call(VersionCAS2020, "UploadUserCertificate", c.kv...), 400, c.code)
		_ = name
	}
	r = e.c.call(VersionCAS2020, "GetUserCertificateDetail", "CertId", id)
	expectOK(t, r)
	if r.str("Cert") != cert || r.str("Key") != key || r.str("Common") != "up.example.com" || r.Body["BuyInAliyun"] != false || r.str("Fingerprint") == "" {
		t.Fatalf("detail: %s", r.Raw)
	}
	if r.str("Algorithm") != "ECC" {
		t.Fatalf("Algorithm: %s", r.Raw)
	}
	r = e.c.call(VersionCAS2020, "GetUserCertificateDetail", "CertId", id, "CertFilter", "true")
	if _, has := r.Body["Cert"]; has {
		t.Fatalf("CertFilter=true returned the PEM: %s", r.Raw)
	}
	r = e.c.call(VersionCAS2020, "ListUserCertificateOrder", "OrderType", "UPLOAD")
	if r.num("TotalCount") != 1 {
		t.Fatalf("UPLOAD list: %s", r.Raw)
	}
	expectOK(t, e.c.call(VersionCAS2020, "DeleteUserCertificate", "CertId", id))
	expectErr(t, e.c.call(VersionCAS2020, "GetUserCertificateDetail", "CertId", id), 404, "InvalidCertId.NotFound")
	expectErr(t, e.c.call(VersionCAS2020, "DeleteUserCertificate", "CertId", id), 404, "InvalidCertId.NotFound")
}
