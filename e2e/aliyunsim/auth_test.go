package aliyunsim

import (
	"encoding/xml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The example of Alibaba's signature documentation (see the reference sheet).
func TestSignatureV1Vector(t *testing.T) {
	params := map[string]string{
		"AccessKeyId":      "testid",
		"Action":           "DescribeRegions",
		"Format":           "XML",
		"SignatureMethod":  "HMAC-SHA1",
		"SignatureNonce":   "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
		"SignatureVersion": "1.0",
		"TimeStamp":        "2016-02-23T12:46:24Z",
		"Version":          "2014-05-26",
	}
	const want = "CT9X0VtwR86fNWSnsc6v8YGOjuE="
	if got := v1Sign("testsecret", v1StringToSign("GET", params)); got != want {
		t.Fatalf("v1 signature = %s, want %s", got, want)
	}
	if got := testV1Signature("GET", params, "testsecret"); got != want {
		t.Fatalf("test client's v1 signature = %s, want %s", got, want)
	}
}

// The v3 vector was computed independently (Python hashlib/hmac, urllib quoting) from the
// canonical request rules of the reference sheet.
func TestSignatureV3Vector(t *testing.T) {
	const (
		body     = "ProductCode=digicert-free-1-free"
		bodyHash = "3374c14cf98ab09ad764ff0cb77c34e0600f70e2757a301a8fcb4a788be978d8"
		want     = "dc28dbbc4f88ba615f89f063479a18d63cbe2c123a4c990cab915c40ce673f58"
	)
	headers := map[string]string{
		"host":                  "cas.aliyuncs.com",
		"content-type":          "application/x-www-form-urlencoded",
		"x-acs-action":          "DescribePackageState",
		"x-acs-content-sha256":  bodyHash,
		"x-acs-date":            "2024-01-01T00:00:00Z",
		"x-acs-signature-nonce": "0123456789abcdef",
		"x-acs-version":         "2020-04-07",
	}
	query := map[string]string{"Foo": "a b*~/"}

	auth := testV3Authorization("POST", query, headers, body, "testid", "testsecret")
	if !strings.HasSuffix(auth, ",Signature="+want) {
		t.Fatalf("test signer: %s, want signature %s", auth, want)
	}

	// The simulator's side, from an HTTP request carrying the same data.
	r := httptest.NewRequest("POST", "http://cas.aliyuncs.com/?"+url.Values{"Foo": {"a b*~/"}}.Encode(), strings.NewReader(body))
	for k, v := range headers {
		if k != "host" {
			r.Header.Set(k, v)
		}
	}
	r.Header.Set("Authorization", auth)
	c, e := parseCall(r, []byte(body))
	if e != nil {
		t.Fatal(e)
	}
	if got := v3Sign("testsecret", v3StringToSign(c, "/")); got != want {
		t.Fatalf("simulator v3 signature = %s, want %s", got, want)
	}
	if e := verifyV3(c, "/", "testsecret"); e != nil {
		t.Fatal(e)
	}
}

func TestV3RequestsEndToEnd(t *testing.T) {
	e := newEnv(t, nil)
	r := e.c.do(e.c.v3Request(VersionCAS2020, "DescribePackageState", map[string]string{"ProductCode": "digicert-free-1-free"}, nil))
	expectOK(t, r)
	if r.num("TotalCount") != 5 {
		t.Fatalf("TotalCount: %s", r.Raw)
	}
	// Parameters in the form body, Action/Version only in the headers.
	r = e.c.do(e.c.v3Request(VersionAlidns, "DescribeDomains", nil, map[string]string{"PageSize": "10"}))
	expectOK(t, r)

	// A body changed after signing.
	req := e.c.v3Request(VersionCAS2020, "DescribePackageState", nil, map[string]string{"ProductCode": "digicert-free-1-free"})
	req.Body = http.NoBody
	req.ContentLength = 0
	expectErr(t, e.c.do(req), 400, "SignatureDoesNotMatch")

	// An x-acs header that is not signed.
	req = e.c.v3Request(VersionCAS2020, "DescribePackageState", nil, nil)
	req.Header.Set("x-acs-extra", "1")
	expectErr(t, e.c.do(req), 400, "IncompleteSignature")

	// Another algorithm.
	req = e.c.v3Request(VersionCAS2020, "DescribePackageState", nil, nil)
	req.Header.Set("Authorization", strings.Replace(req.Header.Get("Authorization"), "ACS3-HMAC-SHA256", "ACS3-HMAC-SM3", 1))
	expectErr(t, e.c.do(req), 400, "IncompleteSignature")

	// The same nonce twice.
	req = e.c.v3Request(VersionCAS2020, "DescribePackageState", nil, nil)
	again := req.Clone(req.Context())
	expectOK(t, e.c.do(req))
	expectErr(t, e.c.do(again), 400, "SignatureNonceUsed")

	// A wrong secret.
	bad := *e.c
	bad.secret = "nope"
	expectErr(t, bad.do(bad.v3Request(VersionCAS2020, "DescribePackageState", nil, nil)), 400, "SignatureDoesNotMatch")
}

func TestAuthErrors(t *testing.T) {
	e := newEnv(t, nil)
	base := func() map[string]string {
		return map[string]string{"Version": VersionCAS2020, "Action": "DescribePackageState"}
	}
	type tc struct {
		name   string
		build  func() (string, map[string]string) // method, params
		status int
		code   string
	}
	signed := func(method string, mutate func(p map[string]string)) func() (string, map[string]string) {
		return func() (string, map[string]string) {
			p := base()
			if mutate != nil {
				mutate(p)
			}
			return method, e.c.signV1(method, p)
		}
	}
	after := func(mutate func(p map[string]string)) func() (string, map[string]string) {
		return func() (string, map[string]string) {
			p := e.c.signV1("POST", base())
			mutate(p)
			return "POST", p
		}
	}
	resign := func(mutate func(p map[string]string)) func() (string, map[string]string) {
		return func() (string, map[string]string) {
			p := e.c.signV1("POST", base())
			mutate(p)
			p["Signature"] = testV1Signature("POST", p, testSecret)
			return "POST", p
		}
	}
	cases := []tc{
		{"ok POST", signed("POST", nil), 200, ""},
		{"ok GET", signed("GET", nil), 200, ""},
		{"TimeStamp spelling", resign(func(p map[string]string) { p["TimeStamp"] = p["Timestamp"]; delete(p, "Timestamp") }), 200, ""},
		{"missing Action", signed("POST", func(p map[string]string) { delete(p, "Action") }), 400, "MissingParameter"},
		{"missing Version", signed("POST", func(p map[string]string) { delete(p, "Version") }), 400, "MissingParameter"},
		{"unknown version", signed("POST", func(p map[string]string) { p["Version"] = "2099-01-01" }), 400, "InvalidVersion"},
		{"unknown action", signed("POST", func(p map[string]string) { p["Action"] = "Nope" }), 404, "InvalidAction.NotFound"},
		{"action of the other CAS version", signed("POST", func(p map[string]string) { p["Action"] = "CreateDVOrderAudit" }), 404, "InvalidAction.NotFound"},
		{"missing AccessKeyId", after(func(p map[string]string) { delete(p, "AccessKeyId") }), 400, "MissingParameter"},
		{"unknown key", resign(func(p map[string]string) { p["AccessKeyId"] = "ghost" }), 404, "InvalidAccessKeyId.NotFound"},
		{"missing signature", after(func(p map[string]string) { delete(p, "Signature") }), 400, "MissingParameter"},
		{"missing nonce", after(func(p map[string]string) { delete(p, "SignatureNonce") }), 400, "MissingParameter"},
		{"missing timestamp", after(func(p map[string]string) { delete(p, "Timestamp") }), 400, "MissingParameter"},
		{"malformed timestamp", resign(func(p map[string]string) { p["Timestamp"] = "yesterday" }), 400, "InvalidTimeStamp.Format"},
		{"timestamp 16 minutes old", resign(func(p map[string]string) {
			p["Timestamp"] = e.clock.Now().Add(-16 * time.Minute).Format("2006-01-02T15:04:05Z")
		}), 400, "InvalidTimeStamp.Expired"},
		{"timestamp 16 minutes ahead", resign(func(p map[string]string) {
			p["Timestamp"] = e.clock.Now().Add(16 * time.Minute).Format("2006-01-02T15:04:05Z")
		}), 400, "InvalidTimeStamp.Expired"},
		{"timestamp 14 minutes old", resign(func(p map[string]string) {
			p["Timestamp"] = e.clock.Now().Add(-14 * time.Minute).Format("2006-01-02T15:04:05Z")
		}), 200, ""},
		{"tampered parameter", after(func(p map[string]string) { p["ProductCode"] = "symantec-dv-1-starter" }), 400, "SignatureDoesNotMatch"},
		{"wrong secret", after(func(p map[string]string) { p["Signature"] = testV1Signature("POST", p, "wrong") }), 400, "SignatureDoesNotMatch"},
		{"signed for GET, sent as POST", func() (string, map[string]string) { return "POST", e.c.signV1("GET", base()) }, 400, "SignatureDoesNotMatch"},
		{"SHA256 method", resign(func(p map[string]string) { p["SignatureMethod"] = "HMAC-SHA256" }), 400, "InvalidSignatureMethod"},
		{"signature version 2", resign(func(p map[string]string) { p["SignatureVersion"] = "2.0" }), 400, "InvalidSignatureVersion"},
		{"bearer token", resign(func(p map[string]string) { p["SignatureType"] = "BEARERTOKEN" }), 400, "InvalidSignatureType"},
		{"token with a permanent key", resign(func(p map[string]string) { p["SecurityToken"] = "CAISforged" }), 400, "InvalidSecurityToken.Malformed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			method, p := c.build()
			r := e.c.send(method, p)
			if c.status == 200 {
				expectOK(t, r)
				return
			}
			expectErr(t, r, c.status, c.code)
		})
	}
}

func TestSignatureMismatchMessage(t *testing.T) {
	e := newEnv(t, nil)
	p := e.c.signV1("POST", map[string]string{"Version": VersionCAS2020, "Action": "DescribePackageState"})
	p["Signature"] = testV1Signature("POST", p, "wrong")
	r := e.c.send("POST", p)
	expectErr(t, r, 400, "SignatureDoesNotMatch")
	const prefix = "Specified signature is not matched with our calculation. server string to sign is:"
	msg := r.str("Message")
	if !strings.HasPrefix(msg, prefix) {
		t.Fatalf("message: %s", msg)
	}
	if got, want := strings.TrimPrefix(msg, prefix), v1StringToSign("POST", p); got != want {
		t.Fatalf("string to sign in the message:\n%s\nwant\n%s", got, want)
	}
}

func TestNonceReplay(t *testing.T) {
	e := newEnv(t, nil)
	p := e.c.signV1("POST", map[string]string{"Version": VersionCAS2020, "Action": "DescribePackageState"})
	expectOK(t, e.c.send("POST", p))
	expectErr(t, e.c.send("POST", p), 400, "SignatureNonceUsed")
	// The same nonce with a fresh timestamp 16 minutes later is accepted again: the window
	// has passed.
	e.clock.Advance(16 * time.Minute)
	p["Timestamp"] = e.clock.Now().Format("2006-01-02T15:04:05Z")
	p["Signature"] = testV1Signature("POST", p, testSecret)
	expectOK(t, e.c.send("POST", p))
	// A forged request does not spend a nonce.
	q := e.c.signV1("POST", map[string]string{"Version": VersionCAS2020, "Action": "DescribePackageState"})
	forged := map[string]string{}
	for k, v := range q {
		forged[k] = v
	}
	forged["Signature"] = testV1Signature("POST", q, "wrong")
	expectErr(t, e.c.send("POST", forged), 400, "SignatureDoesNotMatch")
	expectOK(t, e.c.send("POST", q))
}

func TestGatewayShapes(t *testing.T) {
	e := newEnv(t, nil)

	// Query and form merged: Action/Version in the query, the rest in the body.
	p := e.c.signV1("POST", map[string]string{"Version": VersionCAS2020, "Action": "DescribePackageState", "ProductCode": "globalsign-dv-w-advanced"})
	q := url.Values{"Action": {p["Action"]}, "Version": {p["Version"]}}
	f := url.Values{}
	for k, v := range p {
		if k != "Action" && k != "Version" {
			f.Set(k, v)
		}
	}
	req, _ := http.NewRequest("POST", e.url+"/?"+q.Encode(), strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	r := e.c.do(req)
	expectOK(t, r)
	if r.str("ProductCode") != "globalsign-dv-w-advanced" || r.Header.Get("x-acs-request-id") != r.str("RequestId") {
		t.Fatalf("merged parameters: %s", r.Raw)
	}

	// The same parameter with two values.
	req, _ = http.NewRequest("POST", e.url+"/?ProductCode=a", strings.NewReader(f.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	expectErr(t, e.c.do(req), 400, "InvalidParameter.Duplicate")

	// XML answers, success and error.
	p = e.c.signV1("GET", map[string]string{"Version": VersionCAS2020, "Action": "DescribePackageState", "Format": "XML"})
	r = e.c.send("GET", p)
	if r.Status != 200 || !strings.Contains(r.Header.Get("Content-Type"), "xml") {
		t.Fatalf("XML: %d %s", r.Status, r.Raw)
	}
	var ok struct {
		XMLName    xml.Name `xml:"DescribePackageStateResponse"`
		RequestId  string
		TotalCount int
	}
	if err := xml.Unmarshal(r.Raw, &ok); err != nil || ok.RequestId == "" || ok.TotalCount != 5 {
		t.Fatalf("XML answer %s: %v", r.Raw, err)
	}
	p = e.c.signV1("GET", map[string]string{"Version": VersionCAS2020, "Action": "DescribeCertificateState", "Format": "XML"})
	r = e.c.send("GET", p)
	var xe struct {
		XMLName                                     xml.Name `xml:"Error"`
		RequestId, HostId, Code, Message, Recommend string
	}
	if err := xml.Unmarshal(r.Raw, &xe); err != nil || r.Status != 400 || xe.Code != "MissingParameter" || xe.RequestId == "" || xe.HostId == "" || xe.Recommend == "" {
		t.Fatalf("XML error %d %s: %v", r.Status, r.Raw, err)
	}

	// Methods and paths.
	req, _ = http.NewRequest("PUT", e.url+"/", nil)
	expectErr(t, e.c.do(req), 405, "UnsupportedHTTPMethod")
	req, _ = http.NewRequest("GET", e.url+"/other?Action=DescribePackageState", nil)
	expectErr(t, e.c.do(req), 404, "InvalidAction.NotFound")
	req, _ = http.NewRequest("POST", e.url+"/", strings.NewReader(strings.Repeat("a", maxBody+1)))
	expectErr(t, e.c.do(req), 413, "RequestTooLarge")
	req, _ = http.NewRequest("GET", e.url+"/?Action=%zz", nil)
	expectErr(t, e.c.do(req), 400, "InvalidParameter.Encoding")
}

func TestNewConfigErrors(t *testing.T) {
	ok := map[string]string{"a": "b"}
	cases := map[string]Config{
		"no access key":    {},
		"empty secret":     {AccessKeys: map[string]string{"a": ""}},
		"STS-like key":     {AccessKeys: map[string]string{"STS.x": "y"}},
		"validation mode":  {AccessKeys: ok, Validation: "manual"},
		"fault rate":       {AccessKeys: ok, FaultRate: 1.5},
		"unknown product":  {AccessKeys: ok, Packages: map[string]Package{"nope": {Quota: 1}}},
		"negative quota":   {AccessKeys: ok, Packages: map[string]Package{DefaultProduct: {Quota: -1}}},
		"bad zone":         {AccessKeys: ok, Zones: []string{"not a zone"}},
		"zone both ways":   {AccessKeys: ok, Zones: []string{"a.com"}, ForeignZones: []string{"a.com"}},
		"bad role":         {AccessKeys: ok, Roles: []string{"role/x"}},
		"negative delay":   {AccessKeys: ok, IssueDelay: -time.Second},
		"negative DV":      {AccessKeys: ok, DVInstances: -1},
		"negative QPS":     {AccessKeys: ok, ThrottleQPS: -1},
		"empty faildomain": {AccessKeys: ok, FailDomains: []string{" "}},
	}
	for name, cfg := range cases {
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	s, err := New(Config{AccessKeys: ok})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if st := s.State(); st.Packages[DefaultProduct].Total != 20 || len(st.Packages) != 1 {
		t.Fatalf("default package: %+v", st.Packages)
	}
}
