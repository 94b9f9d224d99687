package aliyunsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/alidns"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cas"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/sts"
)

// The contract test: every JSON answer the simulator gives is decoded strictly into the
// response model of Alibaba's official Go SDK (github.com/aliyun/alibaba-cloud-sdk-go,
// services/cas, services/alidns, services/sts): a key the model does not have (exactly, case
// included) fails, and so does a number where the model has a string or the reverse. CAS
// 2018-07-13 is no longer in the SDK; its answers are checked against the shapes of the
// project's API reference sheet (§2), below.

// contract is the response model of one action. New returns a pointer to a fresh value.
type contract struct {
	Version, Action string
	New             func() any
}

// contracts lists every action the simulator answers whose shape is published (the CAS V2.0
// actions are in v2Contracts). Add new actions here, and a scenario that calls them to
// contractScenarios.
var contracts = []contract{
	// CAS 2020-04-07 (services/cas).
	{VersionCAS2020, "CreateCertificateWithCsrRequest", func() any { return new(cas.CreateCertificateWithCsrRequestResponse) }},
	{VersionCAS2020, "CreateCertificateRequest", func() any { return new(cas.CreateCertificateRequestResponse) }},
	{VersionCAS2020, "CreateCertificateForPackageRequest", func() any { return new(cas.CreateCertificateForPackageRequestResponse) }},
	{VersionCAS2020, "DescribeCertificateState", func() any { return new(cas.DescribeCertificateStateResponse) }},
	{VersionCAS2020, "CancelOrderRequest", func() any { return new(cas.CancelOrderRequestResponse) }},
	{VersionCAS2020, "DeleteCertificateRequest", func() any { return new(cas.DeleteCertificateRequestResponse) }},
	{VersionCAS2020, "DescribePackageState", func() any { return new(cas.DescribePackageStateResponse) }},
	{VersionCAS2020, "ListUserCertificateOrder", func() any { return new(cas.ListUserCertificateOrderResponse) }},
	{VersionCAS2020, "UploadUserCertificate", func() any { return new(uploadUserCertificateResponse) }},
	{VersionCAS2020, "GetUserCertificateDetail", func() any { return new(getUserCertificateDetailResponse) }},
	{VersionCAS2020, "DeleteUserCertificate", func() any { return new(cas.DeleteUserCertificateResponse) }},
	// Alidns 2015-01-09 (services/alidns).
	{VersionAlidns, "DescribeDomains", func() any { return new(alidns.DescribeDomainsResponse) }},
	{VersionAlidns, "AddDomainRecord", func() any { return new(alidns.AddDomainRecordResponse) }},
	{VersionAlidns, "UpdateDomainRecord", func() any { return new(alidns.UpdateDomainRecordResponse) }},
	{VersionAlidns, "DeleteDomainRecord", func() any { return new(alidns.DeleteDomainRecordResponse) }},
	{VersionAlidns, "DescribeDomainRecords", func() any { return new(alidns.DescribeDomainRecordsResponse) }},
	{VersionAlidns, "DescribeSubDomainRecords", func() any { return new(alidns.DescribeSubDomainRecordsResponse) }},
	// STS 2015-04-01 (services/sts).
	{VersionSTS, "AssumeRole", func() any { return new(sts.AssumeRoleResponse) }},
	{VersionSTS, "AssumeRoleWithOIDC", func() any { return new(sts.AssumeRoleWithOIDCResponse) }},
	{VersionSTS, "GetCallerIdentity", func() any { return new(sts.GetCallerIdentityResponse) }},
	// CAS 2018-07-13 (the reference sheet's §2).
	{VersionCAS2018, "CreateDVOrderAudit", func() any { return new(legacyRequestOnly) }},
	{VersionCAS2018, "DescribeDVOrderResult", func() any { return new(legacyDVOrderResult) }},
	{VersionCAS2018, "DescribeOrderInstanceList", func() any { return new(legacyOrderInstanceList) }},
	{VersionCAS2018, "CreateUserCertificate", func() any { return new(legacyCreateUserCertificate) }},
	{VersionCAS2018, "DescribeUserCertificateList", func() any { return new(legacyUserCertificateList) }},
	{VersionCAS2018, "DescribeUserCertificateDetail", func() any { return new(legacyUserCertificateDetail) }},
	{VersionCAS2018, "DeleteUserCertificate", func() any { return new(legacyRequestOnly) }},
}

// uploadUserCertificateResponse is the classic SDK's model plus ResourceId, which Alibaba's
// generated cas-20200407 model (upload_user_certificate_response_body_model.go) defines and the
// classic SDK v1.63.107 does not have yet.
type uploadUserCertificateResponse struct {
	cas.UploadUserCertificateResponse
	ResourceId string
}

// The 2018-07-13 shapes of the reference sheet. It names the fields but not their JSON types:
// ids and counts are numbers and flags booleans here, as the simulator answers them
// (unverified).
type (
	legacyRequestOnly struct {
		RequestId string
	}
	legacyDVOrderResult struct {
		OrderStatus, CheckName, CheckType, CheckValue, Certificate, PrivateKey, RequestId string
	}
	legacyOrderInstance struct {
		Id                                   int64
		InstanceId, CertType, Source, Status string
	}
	legacyOrderInstanceList struct {
		TotalCount int64
		OrderList  []legacyOrderInstance
		RequestId  string
	}
	legacyCreateUserCertificate struct {
		CertId    int64
		RequestId string
	}
	legacyUserCertificate struct {
		Id          int64  `json:"id"`
		Name        string `json:"name"`
		Common      string `json:"common"`
		Sans        string `json:"sans"`
		Fingerprint string `json:"fingerprint"`
		Issuer      string `json:"issuer"`
		OrgName     string `json:"orgName"`
		Province    string `json:"province"`
		City        string `json:"city"`
		Country     string `json:"country"`
		StartDate   string `json:"startDate"`
		EndDate     string `json:"endDate"`
		Expired     bool   `json:"expired"`
		BuyInAliyun bool   `json:"buyInAliyun"`
	}
	legacyUserCertificateList struct {
		TotalCount, CurrentPage, ShowSize int64
		CertificateList                   []legacyUserCertificate
		RequestId                         string
	}
	legacyUserCertificateDetail struct {
		Id                                                               int64
		Name, Common, Sans, Fingerprint, Issuer, OrgName, Province, City string
		Country, StartDate, EndDate                                      string
		Expired, BuyInAliyun                                             bool
		Cert, Key, RequestId                                             string
	}
)

// errorShape is the error body every API shares (the reference sheet's §1).
type errorShape struct {
	RequestId, HostId, Code, Message, Recommend string
}

// answer is one JSON answer seen on the wire.
type answer struct {
	version, action string
	status          int
	body            []byte
}

// recorder is a transport that keeps every JSON answer.
type recorder struct {
	mu      sync.Mutex
	answers []answer
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	params := url.Values{}
	for k, v := range req.URL.Query() {
		params[k] = v
	}
	if req.Body != nil {
		raw, err := io.ReadAll(req.Body)
		if err != nil {
			return nil, err
		}
		req.Body = io.NopCloser(bytes.NewReader(raw))
		if f, err := url.ParseQuery(string(raw)); err == nil {
			for k, v := range f {
				params[k] = v
			}
		}
	}
	version, action := params.Get("Version"), params.Get("Action")
	if v := req.Header.Get("x-acs-version"); v != "" {
		version, action = v, req.Header.Get("x-acs-action")
	}
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil || action == "" {
		return resp, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		r.mu.Lock()
		r.answers = append(r.answers, answer{version, action, resp.StatusCode, body})
		r.mu.Unlock()
	}
	return resp, nil
}

// contractScenarios drive the simulator through every state whose answer has its own shape.
var contractScenarios = map[string]func(t *testing.T, e *env){
	"cas2020":    contractCAS2020,
	"cas2020-v2": contractCAS2020V2,
	"alidns":     contractAlidns,
	"sts":        contractSTS,
	"cas2018":    contractCAS2018,
}

func TestContractWithOfficialSDK(t *testing.T) {
	rec := &recorder{}
	for name, run := range contractScenarios {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, func(c *Config) { c.DVInstances = 2; c.V2.Instances = 2; c.PayedWindow = 10 * time.Second })
			e.c.hc.Transport = rec
			run(t, e)
		})
	}

	byAction := map[string]contract{}
	for _, c := range append(contracts, v2Contracts...) {
		byAction[c.Version+"/"+c.Action] = c
	}
	seen := map[string]int{}
	for _, a := range rec.answers {
		key := a.version + "/" + a.action
		if a.status != http.StatusOK {
			if err := strictDecode(a.body, new(errorShape)); err != nil {
				t.Errorf("%s error answer: %v\n%s", key, err, a.body)
			}
			continue
		}
		c, ok := byAction[key]
		if !ok {
			t.Errorf("%s: the simulator answers an action without a published model", key)
			continue
		}
		seen[key]++
		if err := strictDecode(a.body, c.New()); err != nil {
			t.Errorf("%s: %v\n%s", key, err, a.body)
		}
	}
	var missing []string
	for key := range byAction {
		if seen[key] == 0 {
			missing = append(missing, key)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("no successful answer was checked for %v: add a scenario", missing)
	}
}

// The checker must be able to fail.
func TestStrictDecodeRefuses(t *testing.T) {
	for name, body := range map[string]string{
		"unknown key":        `{"RequestId":"r","OrderId":1,"CreateTime":5}`,
		"key of other case":  `{"RequestId":"r","orderId":1}`,
		"string for number":  `{"RequestId":"r","OrderId":"1"}`,
		"number for string":  `{"RequestId":7,"OrderId":1}`,
		"unknown nested key": `{"RequestId":"r","CertificateOrderList":[{"OrderId":1,"GmtCreate":2}]}`,
	} {
		target := any(new(cas.CreateCertificateWithCsrRequestResponse))
		if strings.Contains(body, "CertificateOrderList") {
			target = new(cas.ListUserCertificateOrderResponse)
		}
		if err := strictDecode([]byte(body), target); err == nil {
			t.Errorf("%s: accepted %s", name, body)
		}
	}
	if err := strictDecode([]byte(`{"RequestId":"r","OrderId":1}`), new(cas.CreateCertificateWithCsrRequestResponse)); err != nil {
		t.Errorf("a correct answer was refused: %v", err)
	}
}

// strictDecode decodes body into v (a pointer to an SDK model) refusing unknown keys and
// mistyped values, and then checks that every key matches a field's JSON name exactly
// (encoding/json alone matches names case-insensitively).
func strictDecode(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	var raw any
	if err := json.Unmarshal(body, &raw); err != nil {
		return err
	}
	return exactKeys(raw, reflect.TypeOf(v), "")
}

// exactKeys walks a decoded JSON value along a Go type. The SDK models embed
// *responses.BaseResponse, whose fields are all unexported: embedded structs contribute only
// their exported fields, as encoding/json sees them.
func exactKeys(raw any, t reflect.Type, path string) error {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch val := raw.(type) {
	case map[string]any:
		if t.Kind() == reflect.Map {
			for k, sub := range val {
				if err := exactKeys(sub, t.Elem(), path+"."+k); err != nil {
					return err
				}
			}
			return nil
		}
		if t.Kind() != reflect.Struct {
			return fmt.Errorf("%s: an object where the model has %s", path, t)
		}
		fields := jsonFields(t)
		for k, sub := range val {
			ft, ok := fields[k]
			if !ok {
				return fmt.Errorf("%s.%s: no field of that exact name in %s", path, k, t)
			}
			if err := exactKeys(sub, ft, path+"."+k); err != nil {
				return err
			}
		}
	case []any:
		if t.Kind() != reflect.Slice {
			return fmt.Errorf("%s: an array where the model has %s", path, t)
		}
		for i, sub := range val {
			if err := exactKeys(sub, t.Elem(), fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
	}
	return nil
}

// jsonFields maps the JSON names of t's fields (embedded structs flattened) to their types.
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				for k, v := range jsonFields(et) {
					out[k] = v
				}
			}
			continue
		}
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag == "-" {
			continue
		} else if tag != "" {
			name = tag
		}
		out[name] = f.Type
	}
	return out
}

// okCaller returns a call of one API version that must succeed.
func okCaller(t *testing.T, e *env, version string) func(action string, kv ...string) result {
	return func(action string, kv ...string) result {
		t.Helper()
		r := e.c.call(version, action, kv...)
		expectOK(t, r)
		return r
	}
}

func contractCAS2020(t *testing.T, e *env) {
	call := okCaller(t, e, VersionCAS2020)
	key := testKey()
	// A CSR order through its states: payed (fresh), domain_verify (DNS), process, certificate.
	multi := e.order2020(makeCSR(t, key, "www.example.com", []string{"www.example.com", "api.example.com"}, nil), "ProductCode", "globalsign-dv-w-advanced")
	e.state2020(multi)
	e.clock.Advance(11 * time.Second)
	token := e.state2020(multi).str("RecordValue")
	call("ListUserCertificateOrder", "OrderType", "CPACK")
	e.addTXT("example.com", "_dnsauth.www", token)
	e.addTXT("example.com", "_dnsauth.api", token)
	e.sim.SetDelays(time.Minute, time.Minute)
	e.state2020(multi)
	e.clock.Advance(90 * time.Second)
	if st := e.state2020(multi).str("Type"); st != "process" {
		t.Fatalf("want process, got %s", st)
	}
	e.clock.Advance(time.Minute)
	e.state2020(multi)
	e.sim.SetDelays(0, 0)
	// FILE validation, cancel, delete.
	file := e.order2020(makeCSR(t, key, "f.example.com", nil, nil), "ValidateType", "FILE")
	e.clock.Advance(11 * time.Second)
	e.state2020(file)
	call("CancelOrderRequest", "OrderId", fmt.Sprint(file))
	e.state2020(file)
	call("DeleteCertificateRequest", "OrderId", fmt.Sprint(file))
	// A failed order.
	failed := e.order2020(makeCSR(t, key, "x.fail.example.com", nil, nil))
	e.clock.Advance(11 * time.Second)
	e.sim.SetValidation(ValidationAuto)
	_ = failed
	// A server-generated key, and the package order action.
	gen := call("CreateCertificateRequest", append([]string{"Domain", "gen.example.com"}, contactArgs()...)...).num("OrderId")
	call("CreateCertificateForPackageRequest", "ProductCode", "globalsign-dv-w-advanced", "Domain", "a.example.com,b.example.com")
	e.clock.Advance(11 * time.Second)
	issued := e.state2020(gen)
	if issued.str("Type") != "certificate" {
		t.Fatalf("want certificate, got %s", issued.Raw)
	}
	call("DescribePackageState", "ProductCode", "globalsign-dv-w-advanced")
	for _, typ := range []string{"CPACK", "BUY", "CERT"} {
		call("ListUserCertificateOrder", "OrderType", typ)
	}
	up := call("UploadUserCertificate", "Name", "up", "Cert", issued.str("Certificate"), "Key", issued.str("PrivateKey")).num("CertId")
	call("ListUserCertificateOrder", "OrderType", "UPLOAD")
	call("GetUserCertificateDetail", "CertId", fmt.Sprint(up))
	certs := call("ListUserCertificateOrder", "OrderType", "CERT")
	for _, it := range certs.Body["CertificateOrderList"].([]any) {
		call("GetUserCertificateDetail", "CertId", fmt.Sprint(int64(it.(map[string]any)["CertificateId"].(float64))))
	}
	call("DeleteUserCertificate", "CertId", fmt.Sprint(up))
	// Errors have the common error shape.
	e.c.call(VersionCAS2020, "DescribeCertificateState", "OrderId", "1")
	e.c.call(VersionCAS2020, "DescribePackageState", "ProductCode", "symantec-free-1-free")
}

func contractAlidns(t *testing.T, e *env) {
	call := okCaller(t, e, VersionAlidns)
	call("DescribeDomains")
	id := call("AddDomainRecord", "DomainName", "example.com", "RR", "_dnsauth.www", "Type", "TXT", "Value", "v1").str("RecordId")
	call("AddDomainRecord", "DomainName", "example.com", "RR", "mail", "Type", "MX", "Value", "mx.example.com")
	call("UpdateDomainRecord", "RecordId", id, "RR", "_dnsauth.www", "Type", "TXT", "Value", "v2")
	call("DescribeDomainRecords", "DomainName", "example.com")
	call("DescribeSubDomainRecords", "SubDomain", "_dnsauth.www.example.com", "DomainName", "example.com")
	call("DeleteDomainRecord", "RecordId", id)
	e.c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "nowhere.org")
}

func contractSTS(t *testing.T, e *env) {
	tmp := stsClient(t, e, e.c.call(VersionSTS, "AssumeRole", "RoleArn", testRole, "RoleSessionName", "contract"))
	expectOK(t, oidc(t, e, nil))
	expectOK(t, e.c.call(VersionSTS, "GetCallerIdentity"))
	expectOK(t, tmp.call(VersionSTS, "GetCallerIdentity"))
	oidc(t, e, map[string]string{"OIDCToken": "abc.def"})
}

func contractCAS2018(t *testing.T, e *env) {
	call := okCaller(t, e, VersionCAS2018)
	_, list := instances(t, e, "StartIndex", "1")
	inst := list[0]["InstanceId"].(string)
	call("CreateDVOrderAudit", dvArgs(inst, "dv.example.com", "DNS")...)
	call("DescribeDVOrderResult", "InstanceId", inst)
	call("DescribeOrderInstanceList", "StartIndex", "1")
	e.sim.SetValidation(ValidationAuto)
	e.clock.Advance(time.Second)
	r := call("DescribeDVOrderResult", "InstanceId", inst)
	if r.str("OrderStatus") != "issued" {
		t.Fatalf("want issued, got %s", r.Raw)
	}
	id := call("CreateUserCertificate", "Name", "legacy", "Cert", r.str("Certificate"), "Key", r.str("PrivateKey")).num("CertId")
	call("DescribeUserCertificateList")
	call("DescribeUserCertificateDetail", "CertId", fmt.Sprint(id))
	call("DeleteUserCertificate", "CertId", fmt.Sprint(id))
	e.c.call(VersionCAS2018, "DescribeDVOrderResult", "InstanceId", "cas-cn-nope")
}
