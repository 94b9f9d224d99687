package aliyunsim

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// checkAnswer asserts the invariants of every answer: a known status and a body in the
// requested format that carries a RequestId (and, for errors, Alibaba's error shape).
func checkAnswer(t *testing.T, rec *httptest.ResponseRecorder) {
	t.Helper()
	body := rec.Body.Bytes()
	if rec.Code < 200 || rec.Code > 599 {
		t.Fatalf("status %d", rec.Code)
	}
	if strings.Contains(rec.Header().Get("Content-Type"), "xml") {
		var v struct {
			XMLName   xml.Name
			RequestId string
			Code      string
		}
		if err := xml.Unmarshal(body, &v); err != nil || v.RequestId == "" || (rec.Code != 200 && v.Code == "") {
			t.Fatalf("XML answer %d %q: %v", rec.Code, body, err)
		}
		return
	}
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil || m["RequestId"] == "" {
		t.Fatalf("JSON answer %d %q: %v", rec.Code, body, err)
	}
	if rec.Code != 200 {
		for _, k := range []string{"Code", "Message", "HostId", "Recommend"} {
			if s, _ := m[k].(string); s == "" {
				t.Fatalf("error answer without %s: %s", k, body)
			}
		}
	}
}

// footprint is what a refused request must not change.
type footprint struct{ orders, used, records, certs, instancesUsed int }

func takeFootprint(s *Simulator) footprint {
	s.mu.Lock()
	defer s.mu.Unlock()
	f := footprint{orders: len(s.st.orders), records: len(s.st.records), certs: len(s.st.certs)}
	for _, p := range s.st.packages {
		f.used += p.used
	}
	for _, inst := range s.st.instances {
		if inst.order != nil {
			f.instancesUsed++
		}
	}
	return f
}

// FuzzRawRequest throws arbitrary requests at the gateway: nothing may panic, every answer
// has the right shape, and nothing unauthenticated changes the account.
func FuzzRawRequest(f *testing.F) {
	f.Add("GET", "Action=DescribePackageState&Version=2020-04-07", "", "", "")
	f.Add("POST", "", "Action=CreateCertificateWithCsrRequest&Version=2020-04-07&Csr=x&AccessKeyId=testid&Signature=abc&SignatureNonce=1&Timestamp=2024-01-01T00:00:00Z&SignatureMethod=HMAC-SHA1&SignatureVersion=1.0", "application/x-www-form-urlencoded", "")
	f.Add("POST", "Format=XML", "Action=AssumeRoleWithOIDC&Version=2015-04-01", "application/x-www-form-urlencoded", "")
	f.Add("POST", "", "", "", "ACS3-HMAC-SHA256 Credential=testid,SignedHeaders=host;x-acs-action,Signature=00")
	f.Add("POST", "", "", "", "ACS3-HMAC-SHA256 Credential=,SignedHeaders=,Signature=")
	f.Add("PUT", "%zz", "a=1&a=2", "application/x-www-form-urlencoded; charset=utf-8", "ACS3-")
	f.Add("GET", "Action=AddDomainRecord&Version=2015-01-09&Format=xml&Timestamp=bad", "", "", "")

	s, err := New(Config{AccessKeys: map[string]string{testID: testSecret}, Zones: []string{"example.com"}, DVInstances: 1})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	f.Fuzz(func(t *testing.T, method, rawQuery, body, contentType, authorization string) {
		req := &http.Request{
			Method: method, URL: &url.URL{Path: "/", RawQuery: rawQuery}, Host: "cas.aliyuncs.com",
			Header: http.Header{}, Body: io.NopCloser(strings.NewReader(body)),
		}
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		if authorization != "" {
			req.Header.Set("Authorization", authorization)
			req.Header.Set("x-acs-action", "CreateCertificateWithCsrRequest")
			req.Header.Set("x-acs-version", VersionCAS2020)
		}
		req = req.WithContext(t.Context())
		before := takeFootprint(s)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		checkAnswer(t, rec)
		if after := takeFootprint(s); after != before {
			t.Fatalf("an unsigned request changed the account: %+v -> %+v", before, after)
		}
	})
}

// fuzzActions are the actions FuzzSignedRequest calls with fuzzed parameters.
var fuzzActions = []struct{ version, action string }{
	{VersionCAS2020, "CreateCertificateWithCsrRequest"},
	{VersionCAS2020, "CreateCertificateRequest"},
	{VersionCAS2020, "CreateCertificateForPackageRequest"},
	{VersionCAS2020, "DescribeCertificateState"},
	{VersionCAS2020, "CancelOrderRequest"},
	{VersionCAS2020, "DeleteCertificateRequest"},
	{VersionCAS2020, "ListUserCertificateOrder"},
	{VersionCAS2020, "UploadUserCertificate"},
	{VersionCAS2018, "CreateDVOrderAudit"},
	{VersionCAS2018, "DescribeOrderInstanceList"},
	{VersionAlidns, "AddDomainRecord"},
	{VersionAlidns, "UpdateDomainRecord"},
	{VersionSTS, "AssumeRole"},
}

// FuzzSignedRequest signs fuzzed parameters correctly, so they reach the actions: nothing may
// panic, a refused request changes nothing, and an accepted order only ever covers valid
// names within its product's limits.
func FuzzSignedRequest(f *testing.F) {
	csr := makeCSR(f, testKey(), "fuzz.example.com", []string{"www.fuzz.example.com"}, nil)
	f.Add(uint8(0), url.Values{"Csr": {csr}, "Username": {"a"}, "Phone": {"13800000000"}, "Email": {"a@b.com"}, "ValidateType": {"DNS"}, "ProductCode": {"globalsign-dv-w-advanced"}}.Encode())
	f.Add(uint8(0), url.Values{"Csr": {csr[:200]}, "Username": {"a"}, "Phone": {"1"}, "Email": {"a@b"}, "ValidateType": {"DNS"}}.Encode())
	f.Add(uint8(1), "Domain=a.example.com&Username=u&Phone=13800000000&Email=a@b.com&ValidateType=FILE")
	f.Add(uint8(1), "Domain=*.example.com&Username=u&Phone=13800000000&Email=a@b.com&ValidateType=FILE&ProductCode=symantec-dv-1-starter")
	f.Add(uint8(2), "Domain=a.example.com,b.example.com&ProductCode=globalsign-dv-w-advanced")
	f.Add(uint8(2), "Domain=a..example.com&ProductCode=globalsign-dv-w-advanced")
	f.Add(uint8(3), "OrderId=99999999999999999999")
	f.Add(uint8(6), "Status=ISSUED&Keyword=%00&ShowSize=-1")
	f.Add(uint8(8), "InstanceId=cas-cn-x&Domain=a.example.com&DomainVerifyType=DNS&Username=u&Email=a@b.com&Mobile=13800000000&Province=p&City=c")
	f.Add(uint8(10), "DomainName=example.com&RR=_dnsauth&Type=TXT&Value=v&TTL=600")
	f.Add(uint8(10), "DomainName=EXAMPLE.com.&RR=*.x&Type=cname&Value=&TTL=99999999999999999999")
	f.Add(uint8(12), "RoleArn=acs:ram::1:role/r&RoleSessionName=s&DurationSeconds=900")

	s, err := New(Config{
		AccessKeys: map[string]string{testID: testSecret}, Zones: []string{"example.com"}, DVInstances: 2,
		Packages: map[string]Package{"digicert-free-1-free": {Quota: 1000}, "globalsign-dv-w-advanced": {Quota: 1000, MaxNames: 5}, "symantec-dv-1-starter": {Quota: 1000}},
	})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	c := &client{t: nil, id: testID, secret: testSecret, now: s.now}
	f.Fuzz(func(t *testing.T, which uint8, rawParams string) {
		act := fuzzActions[int(which)%len(fuzzActions)]
		vals, err := url.ParseQuery(rawParams)
		if err != nil {
			return
		}
		p := map[string]string{}
		for k, v := range vals {
			p[k] = v[0]
		}
		p["Action"], p["Version"] = act.action, act.version
		signed := c.signV1("POST", p)
		form := url.Values{}
		for k, v := range signed {
			form.Set(k, v)
		}
		req := httptest.NewRequest("POST", "http://cas.aliyuncs.com/", bytes.NewReader([]byte(form.Encode())))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")

		before := takeFootprint(s)
		ordersBefore := map[int64]bool{}
		s.mu.Lock()
		for id := range s.st.orders {
			ordersBefore[id] = true
		}
		s.mu.Unlock()
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		checkAnswer(t, rec)
		after := takeFootprint(s)
		if rec.Code != http.StatusOK {
			if after != before {
				t.Fatalf("%s refused (%d %s) but changed the account: %+v -> %+v", act.action, rec.Code, rec.Body, before, after)
			}
			return
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		for id, o := range s.st.orders {
			if ordersBefore[id] {
				continue
			}
			limit := s.st.packages[o.product.Code].maxNames
			if len(o.domains) == 0 || len(o.domains) > limit {
				t.Fatalf("order %d has %d names (limit %d)", id, len(o.domains), limit)
			}
			for _, d := range o.domains {
				if checkHostname(d, true) != nil || (!o.product.Wildcard && strings.HasPrefix(d, "*.")) {
					t.Fatalf("order %d accepted the name %q", id, d)
				}
			}
		}
	})
}
