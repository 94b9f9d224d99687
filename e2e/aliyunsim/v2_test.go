package aliyunsim

import (
	"crypto/elliptic"
	"encoding/json"
	"errors"
	"flag"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// The V2.0 actions through the official classic SDK's CommonRequest, the way the issuer
// calls them (the classic SDK has no typed models for them).

// v2env is a simulator with V2.0 instances and a classic SDK client.
type v2env struct {
	*env
	sdk  *sdk.Client
	host string
}

func newV2Env(t *testing.T, mutate func(*Config)) *v2env {
	t.Helper()
	e := newEnv(t, func(c *Config) {
		c.V2.Instances = 2
		if mutate != nil {
			mutate(c)
		}
	})
	cl, err := sdk.NewClientWithOptions("cn-hangzhou", sdkConfig(), credentials.NewAccessKeyCredential(testID, testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return &v2env{env: e, sdk: cl, host: strings.TrimPrefix(e.url, "http://")}
}

// do calls a CAS 2020-04-07 action and decodes the answer into out (when not nil).
func (e *v2env) do(action string, out any, kv ...string) error {
	e.t.Helper()
	p := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		p[kv[i]] = kv[i+1]
	}
	resp, err := e.sdk.ProcessCommonRequest(commonRequest(e.host, "cas", VersionCAS2020, action, p))
	if err != nil {
		return err
	}
	if out != nil {
		if err := json.Unmarshal(resp.GetHttpContentBytes(), out); err != nil {
			e.t.Fatalf("%s answer %s: %v", action, resp.GetHttpContentString(), err)
		}
	}
	return nil
}

func (e *v2env) must(action string, out any, kv ...string) {
	e.t.Helper()
	if err := e.do(action, out, kv...); err != nil {
		e.t.Fatalf("%s: %v", action, err)
	}
}

// expectCode checks that err is a server error with code and HTTP status.
func expectCode(t *testing.T, err error, status int, code string) {
	t.Helper()
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) || se.ErrorCode() != code || se.HttpStatus() != status {
		t.Fatalf("want %d %s, got %v", status, code, err)
	}
}

// instanceDetail mirrors the SDK's GetInstanceDetailResponseBody (CertificateId int32).
type instanceDetail struct {
	RequestId, InstanceId, Status, CertificateStatus, Domain, Csr, GenerateCsrMethod string
	KeyAlgorithm, ValidationMethod, CertIdentifier, InstanceType, CertificateName    string
	CertificateId                                                                    int32
	ContactIdList                                                                    []int64
	FullDomainCount, WildcardDomainCount                                             int32
	InstanceEndTime, CertificateNotAfter                                             int64
	Tags                                                                             []struct{ TagKey, TagValue string }
	DomainValidationList                                                             []struct {
		Domain, RootDomain, ValidationType, ValidationKey, ValidationValue string
	}
}

type instanceList struct {
	TotalCount   int64
	InstanceList []struct {
		InstanceId, Status, CertificateStatus, CertificateName string
		CertificateId                                          int64
	}
}

func (e *v2env) detail(id string) instanceDetail {
	e.t.Helper()
	var d instanceDetail
	e.must("GetInstanceDetail", &d, "InstanceId", id)
	return d
}

func (e *v2env) contact() string {
	e.t.Helper()
	var out struct{ ContactId int64 }
	e.must("CreateContact", &out, "Name", "Ops", "Mobile", "13800000000", "Email", "ops@example.com")
	if out.ContactId <= 0 {
		e.t.Fatalf("no ContactId")
	}
	return itoa(out.ContactId)
}

func itoa(n int64) string { b, _ := json.Marshal(n); return string(b) }

func (e *v2env) inactive() []string {
	e.t.Helper()
	var l instanceList
	e.must("ListInstances", &l, "Status", "inactive", "CertificateType", "DV", "ShowSize", "100")
	var ids []string
	for _, i := range l.InstanceList {
		ids = append(ids, i.InstanceId)
	}
	return ids
}

// update writes an upload application for csr onto the instance.
func (e *v2env) update(id, csr, alg, contact string, extra ...string) error {
	kv := append([]string{"InstanceId", id, "GenerateCsrMethod", "upload", "Csr", csr, "KeyAlgorithm", alg,
		"ValidationMethod", "DNS", "ContactIdList.1", contact, "AutoReissue", "disable"}, extra...)
	return e.do("UpdateInstance", nil, kv...)
}

func (e *v2env) task(id string) string {
	e.t.Helper()
	var out struct{ TaskStatus string }
	e.must("GetTaskAttribute", &out, "TaskId", id, "TaskType", "ApplyCertificate")
	return out.TaskStatus
}

// publish creates the TXT records of every DomainValidationList entry through Alidns.
func (e *v2env) publish(d instanceDetail) {
	e.t.Helper()
	for _, v := range d.DomainValidationList {
		if v.ValidationType != "TXT" {
			e.t.Fatalf("validation type %s", v.ValidationType)
		}
		e.addTXT(v.RootDomain, v.ValidationKey, v.ValidationValue)
	}
}

func TestV2FullFlowWithSDK(t *testing.T) {
	e := newV2Env(t, nil)
	contact := e.contact()
	ids := e.inactive()
	if len(ids) != 2 || !strings.HasPrefix(ids[0], "cas_dv-cn-") {
		t.Fatalf("inactive instances: %v", ids)
	}
	id := ids[0]
	key := rsaKey(t, 2048)
	csr := makeCSR(t, key, "www.example.com", []string{"www.example.com"}, nil)
	if err := e.update(id, csr, "RSA_2048", contact, "CertificateName", "cm-default-web", "Tags.1.TagKey", "cert-manager-certificate", "Tags.1.TagValue", "default/web"); err != nil {
		t.Fatalf("UpdateInstance: %v", err)
	}
	d := e.detail(id)
	if d.Status != "inactive" || d.Csr != strings.TrimSpace(csr) || d.Domain != "www.example.com" || d.GenerateCsrMethod != "upload" ||
		d.CertificateId != 0 || d.CertificateStatus != "" || len(d.ContactIdList) != 1 || itoa(d.ContactIdList[0]) != contact ||
		len(d.Tags) != 1 || d.Tags[0].TagValue != "default/web" || len(d.DomainValidationList) != 0 {
		t.Fatalf("after UpdateInstance: %+v", d)
	}
	e.must("ApplyCertificate", nil, "InstanceId", id)
	expectCode(t, e.do("ApplyCertificate", nil, "InstanceId", id), 400, "OperationDenied.StatusNotSupport")
	if st := e.task(id); st != "processing" {
		t.Fatalf("task right after apply: %s", st)
	}
	if d = e.detail(id); d.Status != "pending" || len(d.DomainValidationList) != 0 {
		t.Fatalf("records before the delay: %+v", d)
	}
	e.clock.Advance(2 * time.Second)
	if st := e.task(id); st != "success" {
		t.Fatalf("task after the records delay: %s", st)
	}
	d = e.detail(id)
	if d.Status != "pending" || len(d.DomainValidationList) != 1 {
		t.Fatalf("records: %+v", d)
	}
	v := d.DomainValidationList[0]
	if v.Domain != "www.example.com" || v.RootDomain != "example.com" || v.ValidationKey != "_dnsauth.www" || v.ValidationValue == "" {
		t.Fatalf("validation entry: %+v", v)
	}
	// Time alone does not validate in dns mode.
	e.clock.Advance(10 * time.Minute)
	if d = e.detail(id); d.Status != "pending" || d.CertificateId != 0 {
		t.Fatalf("issued without the record: %+v", d)
	}
	e.publish(d)
	d = e.detail(id)
	if d.Status != "normal" || d.CertificateStatus != "issued" || d.CertificateId == 0 || len(d.DomainValidationList) != 0 ||
		d.CertIdentifier != itoa(int64(d.CertificateId))+"-cn-hangzhou" {
		t.Fatalf("after validation: %+v", d)
	}

	var cert struct {
		Cert, Key, InstanceId string
		Id                    int64
	}
	e.must("GetUserCertificateDetail", &cert, "CertId", itoa(int64(d.CertificateId)))
	leaf := verifyChain(t, cert.Cert, e.sim.RootPEM(), "www.example.com")
	if !publicKeysEqual(leaf.PublicKey, key.Public()) || cert.Key != "" || cert.InstanceId != id || cert.Id != int64(d.CertificateId) {
		t.Fatalf("download: instance %s id %d key %q", cert.InstanceId, cert.Id, cert.Key)
	}
	// ListCertificates types CertificateId as a string.
	var certs struct {
		TotalCount      int64
		CertificateList []struct{ CertificateId, InstanceId, CertificateStatus, Algorithm string }
	}
	e.must("ListCertificates", &certs, "InstanceId", id)
	if certs.TotalCount != 1 || certs.CertificateList[0].CertificateId != itoa(int64(d.CertificateId)) || certs.CertificateList[0].CertificateStatus != "issued" {
		t.Fatalf("ListCertificates: %+v", certs)
	}
	// The listing finds the instance by its name, with CertificateId as a number.
	var l instanceList
	e.must("ListInstances", &l, "Keyword", "cm-default-web")
	if l.TotalCount != 1 || l.InstanceList[0].InstanceId != id || l.InstanceList[0].CertificateId != int64(d.CertificateId) {
		t.Fatalf("ListInstances by name: %+v", l)
	}
	var sum struct{ TotalCount, InactiveCount int32 }
	e.must("GetInstanceSummary", &sum)
	if sum.TotalCount != 2 || sum.InactiveCount != 1 {
		t.Fatalf("summary: %+v", sum)
	}

	// Re-issue on the same instance: a new CSR, a new application, a new CertificateId.
	first := d.CertificateId
	key2 := ecKey(t, elliptic.P256())
	if err := e.update(id, makeCSR(t, key2, "www.example.com", nil, nil), "ECC_256", contact); err != nil {
		t.Fatalf("UpdateInstance on normal: %v", err)
	}
	e.must("ApplyCertificate", nil, "InstanceId", id)
	e.clock.Advance(2 * time.Second)
	e.publish(e.detail(id))
	d = e.detail(id)
	if d.CertificateStatus != "issued" || d.CertificateId == 0 || d.CertificateId == first || d.KeyAlgorithm != "ECC_256" {
		t.Fatalf("re-issue: %+v (first %d)", d, first)
	}
	e.must("GetUserCertificateDetail", &cert, "CertId", itoa(int64(d.CertificateId)))
	if leaf := verifyChain(t, cert.Cert, e.sim.RootPEM(), "www.example.com"); !publicKeysEqual(leaf.PublicKey, key2.Public()) {
		t.Fatal("the re-issued certificate is not for the new key")
	}

	st := e.sim.State()
	var inst InstanceState
	for _, i := range st.Instances {
		if i.ID == id {
			inst = i
		}
	}
	if inst.Applications != 2 || len(inst.Certificates) != 2 || inst.CertificateID != int64(d.CertificateId) ||
		inst.Status != "normal" || inst.CertificateStatus != "issued" || inst.Domain != "www.example.com" || inst.InstanceType != InstanceBuy {
		t.Fatalf("state: %+v", inst)
	}
	for _, a := range []string{"ListInstances", "GetInstanceDetail", "GetInstanceSummary", "UpdateInstance", "ApplyCertificate", "GetTaskAttribute", "GetUserCertificateDetail", "ListCertificates", "CreateContact"} {
		if st.Calls[a] == 0 {
			t.Errorf("calls has no %s: %v", a, st.Calls)
		}
	}
}

func TestV2CancelRefusedThenAccepted(t *testing.T) {
	e := newV2Env(t, nil)
	contact := e.contact()
	id := e.inactive()[0]
	csr := makeCSR(t, testKey(), "api.example.com", nil, nil)
	if err := e.update(id, csr, "ECC_256", contact); err != nil {
		t.Fatal(err)
	}
	expectCode(t, e.do("CancelPendingCertificate", nil, "InstanceId", id), 400, "OperationDenied.StatusNotSupport") // nothing in flight
	e.must("ApplyCertificate", nil, "InstanceId", id)
	e.clock.Advance(2 * time.Second)
	if d := e.detail(id); len(d.DomainValidationList) != 1 {
		t.Fatalf("records: %+v", d)
	}
	// Refused for a few seconds after the records appear.
	expectCode(t, e.do("CancelPendingCertificate", nil, "InstanceId", id), 400, "OperationDenied.StatusNotSupport")
	e.clock.Advance(5 * time.Second)
	e.must("CancelPendingCertificate", nil, "InstanceId", id)
	// Asynchronous: still pending, records gone, then back to what it was.
	if d := e.detail(id); d.Status != "pending" || len(d.DomainValidationList) != 0 {
		t.Fatalf("withdrawal in progress: %+v", d)
	}
	e.clock.Advance(2 * time.Second)
	d := e.detail(id)
	if d.Status != "inactive" || d.CertificateId != 0 || len(d.DomainValidationList) != 0 {
		t.Fatalf("after withdrawal: %+v", d)
	}
	expectCode(t, e.do("CancelPendingCertificate", nil, "InstanceId", id), 400, "OperationDenied.StatusNotSupport")
	// The instance can be applied for again.
	e.must("ApplyCertificate", nil, "InstanceId", id)
	e.clock.Advance(2 * time.Second)
	e.publish(e.detail(id))
	if d := e.detail(id); d.CertificateStatus != "issued" {
		t.Fatalf("after re-application: %+v", d)
	}
	if inst := e.sim.State().Instances; inst[0].Applications+inst[1].Applications != 2 {
		t.Fatalf("applications: %+v", inst)
	}
}

func TestV2AutoSubmit(t *testing.T) {
	e := newV2Env(t, func(c *Config) { c.V2.AutoSubmit = true; c.Validation = ValidationAuto })
	contact := e.contact()
	id := e.inactive()[0]
	if err := e.update(id, makeCSR(t, testKey(), "auto.example.com", nil, nil), "ECC_256", contact); err != nil {
		t.Fatal(err)
	}
	if d := e.detail(id); d.Status != "pending" {
		t.Fatalf("not auto-submitted: %+v", d)
	}
	expectCode(t, e.do("ApplyCertificate", nil, "InstanceId", id), 400, "OperationDenied.StatusNotSupport")
	// Auto validation: issued when the records appear.
	e.clock.Advance(2 * time.Second)
	if d := e.detail(id); d.CertificateStatus != "issued" || d.Status != "normal" {
		t.Fatalf("auto validation: %+v", d)
	}
}

func TestV2StrictParameters(t *testing.T) {
	e := newV2Env(t, nil)
	testID := e.sim.AddInstance(InstanceSpec{Type: InstanceTest})
	closed := e.sim.AddInstance(InstanceSpec{Status: "closed"})
	id := e.inactive()[0]
	contact := e.contact()
	key := rsaKey(t, 2048)
	one := makeCSR(t, key, "a.example.com", nil, nil)
	cases := []struct {
		name   string
		err    error
		status int
		code   string
	}{
		{"ShowSize over 100", e.do("ListInstances", nil, "ShowSize", "101"), 400, "InvalidParameter"},
		{"unknown Status", e.do("ListInstances", nil, "Status", "issued"), 400, "InvalidParameter"},
		{"no InstanceId", e.do("GetInstanceDetail", nil), 400, "MissingParameter"},
		{"unknown instance", e.do("GetInstanceDetail", nil, "InstanceId", "cas_dv-cn-nosuch"), 404, "InvalidInstanceId.NotFound"},
		{"upload without Csr", e.do("UpdateInstance", nil, "InstanceId", id, "GenerateCsrMethod", "upload"), 400, "MissingParameter"},
		{"key algorithm mismatch", e.update(id, one, "ECC_256", contact), 400, "InvalidParameter.KeyAlgorithm"},
		{"P-384 has no KeyAlgorithm", e.update(id, makeCSR(t, ecKey(t, elliptic.P384()), "a.example.com", nil, nil), "ECC_256", contact), 400, "InvalidParameter.KeyAlgorithm"},
		{"unknown KeyAlgorithm", e.update(id, one, "RSA_1024", contact), 400, "InvalidParameter"},
		{"two names on a one-name instance", e.update(id, makeCSR(t, key, "a.example.com", []string{"b.example.com"}, nil), "RSA_2048", contact), 400, "InvalidParameter.DomainCount"},
		{"wildcard on a plain instance", e.update(id, makeCSR(t, key, "*.example.com", nil, nil), "RSA_2048", contact), 400, "InvalidParameter.DomainCount"},
		{"wildcard on a test instance", e.update(testID, makeCSR(t, key, "*.example.com", nil, nil), "RSA_2048", contact), 400, "DomainAndProductNotMatch"},
		{"IP SAN", e.update(id, makeCSR(t, key, "a.example.com", nil, ipList("10.0.0.1")), "RSA_2048", contact), 400, "InvalidParameter.Csr"},
		{"unknown contact", e.update(id, one, "RSA_2048", "42"), 404, "InvalidContactId.NotFound"},
		{"contact not an integer", e.update(id, one, "RSA_2048", "ops"), 400, "InvalidParameter"},
		{"tag with the aliyun prefix", e.update(id, one, "RSA_2048", contact, "Tags.1.TagKey", "aliyun:x", "Tags.1.TagValue", "v"), 400, "InvalidParameter"},
		{"closed instance", e.update(closed, one, "RSA_2048", contact), 400, "OperationDenied.StatusNotSupport"},
		{"apply before update", e.do("ApplyCertificate", nil, "InstanceId", id), 400, "OperationDenied.IncompleteInformation"},
		{"task of a never-applied instance", e.do("GetTaskAttribute", nil, "TaskId", id), 404, "NotFound"},
		{"unknown TaskType", e.do("GetTaskAttribute", nil, "TaskId", id, "TaskType", "Other"), 400, "InvalidParameter"},
		{"CertId not an integer", e.do("GetUserCertificateDetail", nil, "CertId", "abc"), 400, "InvalidParameter"},
		{"ListCertificates unknown source", e.do("ListCertificates", nil, "CertificateSource", "FREE"), 400, "InvalidParameter"},
		{"contact e-mail", e.do("CreateContact", nil, "Name", "x", "Mobile", "13800000000", "Email", "not-an-email"), 400, "IncorrectFormat.Email"},
		{"contact twice", e.do("CreateContact", nil, "Name", "y", "Mobile", "13800000001", "Email", "ops@example.com"), 400, "AlreadyExists.Email"},
		{"contact without Mobile", e.do("CreateContact", nil, "Name", "z"), 400, "MissingParameter"},
		{"unknown contact id", e.do("GetContact", nil, "ContactId", "7"), 404, "InvalidContactId.NotFound"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { expectCode(t, c.err, c.status, c.code) })
	}
	// None of the refused updates changed the instance.
	if d := e.detail(id); d.Csr != "" || d.Domain != "" || d.Status != "inactive" {
		t.Fatalf("a refused update left state: %+v", d)
	}
	// The contact is found by e-mail and read back.
	var lc struct {
		TotalCount  int64
		ContactList []struct {
			ContactId   int64
			Email, Name string
		}
	}
	e.must("ListContact", &lc, "Keyword", "ops@example.com")
	if lc.TotalCount != 1 || itoa(lc.ContactList[0].ContactId) != contact {
		t.Fatalf("ListContact: %+v", lc)
	}
	var gc struct{ Email string }
	e.must("GetContact", &gc, "ContactId", contact)
	if gc.Email != "ops@example.com" {
		t.Fatalf("GetContact: %+v", gc)
	}
	// Revocation marks the instance's latest certificate.
	if err := e.update(id, one, "RSA_2048", contact); err != nil {
		t.Fatal(err)
	}
	e.must("ApplyCertificate", nil, "InstanceId", id)
	e.clock.Advance(2 * time.Second)
	e.publish(e.detail(id))
	cid := e.detail(id).CertificateId
	e.must("RevokeCertificate", nil, "InstanceId", id, "CertificateId", itoa(int64(cid)))
	expectCode(t, e.do("RevokeCertificate", nil, "InstanceId", id, "CertificateId", itoa(int64(cid))), 400, "OperationDenied.StatusNotSupport")
	if d := e.detail(id); d.CertificateStatus != "revoked" {
		t.Fatalf("after revocation: %+v", d)
	}
}

func ipList(ips ...string) []net.IP {
	var out []net.IP
	for _, s := range ips {
		out = append(out, net.ParseIP(s))
	}
	return out
}

func TestV2Flags(t *testing.T) {
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	f := BindFlags(fs)
	if err := fs.Parse([]string{"--access-key", "a:b", "--instances", "3", "--instance-type", "TEST", "--auto-submit"}); err != nil {
		t.Fatal(err)
	}
	cfg, err := f.Config(true)
	if err != nil || cfg.V2.Instances != 3 || cfg.V2.InstanceType != InstanceTest || !cfg.V2.AutoSubmit {
		t.Fatalf("Config: %+v %v", cfg.V2, err)
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	st := s.State()
	if len(st.Instances) != 3 || st.Instances[0].InstanceType != InstanceTest || st.Instances[0].Status != "inactive" {
		t.Fatalf("instances: %+v", st.Instances)
	}
	cfg.V2.InstanceType = "FREE"
	if _, err := New(cfg); err == nil {
		t.Fatal("an unknown instance type was accepted")
	}
}
