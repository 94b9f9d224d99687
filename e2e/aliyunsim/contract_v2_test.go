package aliyunsim

import (
	"fmt"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/services/cas"
)

// The CAS 2020-04-07 V2.0 actions (subscription instances) are not in the classic SDK
// v1.63.107, which has only GetUserCertificateDetail of them. Their reference is Alibaba's
// generated cas-20200407 models, github.com/aliyun/alibabacloud-go-sdk, directory
// cas-20200407/client, commit f93b7cbd158e6c8bd8473592922fd17f592f1d00 (the last to change
// it), one file per action: <action in snake case>_response_body_model.go. The structs below
// carry the same JSON names and Go types as those models (the models use pointers; values
// decode the same way, and a string where a number is due, or the reverse, still fails).

// v2RequestOnly: update_instance, apply_certificate, cancel_pending_certificate and
// revoke_certificate answer nothing but the request id.
type v2RequestOnly struct {
	RequestId string
}

// list_instances_response_body_model.go.
type (
	v2ListInstances struct {
		CurrentPage  int32
		InstanceList []v2ListedInstance
		RequestId    string
		ShowSize     int32
		TotalCount   int64
	}
	v2ListedInstance struct {
		AutoReissue, Brand, CertIdentifier, CertificateDomain string
		CertificateId                                         int64
		CertificateName                                       string
		CertificateNotAfter, CertificateNotBefore             int64
		CertificateRevokeTime                                 int64
		CertificateStatus, CertificateType, Domain            string
		FullDomainCount                                       int32
		InstanceEndTime                                       int64
		InstanceId                                            string
		InstanceStartTime                                     int64
		InstanceType, KeyAlgorithm                            string
		OrderEndTime, OrderStartTime                          int64
		PendingResult, ResourceGroupId, Spec, Status          string
		UsingProductList                                      []string
		WildcardDomainCount                                   int32
	}
)

// get_instance_detail_response_body_model.go (CertificateId is an int32 here, an int64 in
// the listing).
type v2InstanceDetail struct {
	AutoReissue, AverageWaitingTime, Brand, CertIdentifier string
	CertificateId                                          int32
	CertificateName                                        string
	CertificateNotAfter, CertificateNotBefore              int64
	CertificateRevokeTime                                  int64
	CertificateStatus, CertificateType, City               string
	CompanyId                                              int64
	ContactIdList                                          []int64
	CountryCode, Csr                                       string
	DingGroupList                                          []struct {
		DingGroupInstanceId, DingGroupName, DingGroupType, DingGroupUrl string
	}
	Domain               string
	DomainValidationList []struct {
		Cname, CnameKey, Domain, RootDomain, ValidationKey, ValidationType, ValidationValue string
	}
	FullDomainCount                    int32
	GenerateCsrMethod                  string
	InstanceEndTime                    int64
	InstanceId                         string
	InstanceStartTime                  int64
	InstanceType, KeyAlgorithm         string
	OrderEndTime, OrderStartTime       int64
	PendingResult, Province, RequestId string
	ResourceGroupId, Spec, Status      string
	Tags                               []struct{ TagKey, TagValue string }
	UpgradeStatus, ValidationMethod    string
	WildcardDomainCount                int32
}

// get_instance_summary_response_body_model.go.
type v2InstanceSummary struct {
	AutoReissueCount, CertificateCount, InactiveCount int32
	RequestId                                         string
	TotalCount, WillExpireCount                       int32
}

// get_task_attribute_response_body_model.go.
type v2TaskAttribute struct {
	RequestId, TaskMessage, TaskStatus string
}

// list_certificates_response_body_model.go (CertificateId is a string here).
type (
	v2ListCertificates struct {
		CertificateList []v2ListedCertificate
		CurrentPage     int32
		RequestId       string
		ShowSize        int32
		TotalCount      int64
	}
	v2ListedCertificate struct {
		Algorithm, CertIdentifier, CertificateId, CertificateName string
		CertificateSource, CertificateStatus, CommonName, Domain  string
		ExistPrivateKey                                           bool
		FingerPrint, InstanceId, Issuer                           string
		KeySize                                                   int32
		NotAfter, NotBefore                                       int64
		Serial                                                    string
		SubjectAlternativeNames, UsingProductList                 []string
	}
)

// list_contact_response_body_model.go, create_contact_response_body_model.go and
// get_contact_response_body_model.go.
type (
	v2ListContact struct {
		ContactList []v2ListedContact
		CurrentPage int32
		Keyword     string
		RequestId   string
		ShowSize    int32
		TotalCount  int64
	}
	v2ListedContact struct {
		ContactId    int64
		Email        string
		EmailStatus  int32
		Mobile       string
		MobileStatus int32
		Name         string
		WebhookList  []string
		Webhooks     string
	}
	v2CreateContact struct {
		ContactId int64
		RequestId string
	}
	v2GetContact struct {
		ContactId       int64
		Email           string
		EmailStatus     int32
		IdCard, Mobile  string
		MobileStatus    int32
		Name, RequestId string
		WebhookList     []string
		Webhooks        string
	}
)

// getUserCertificateDetailResponse is the classic SDK's model plus the fields the generated
// model (get_user_certificate_detail_response_body_model.go) has and the classic SDK
// v1.63.107 does not: a V2.0 instance's certificate carries its instance and times.
type getUserCertificateDetailResponse struct {
	cas.GetUserCertificateDetailResponse
	CertChain []struct {
		CommonName, IssuerCommonName string
		NotAfter, NotBefore          int64
		RemainDay                    int32
	}
	CertIdentifier, CertSha2, InstanceId string
	NotAfter, NotBefore                  int64
	SerialNo, Sha2                       string
	Tags                                 []struct{ TagKey, TagValue string }
}

// v2Contracts are the V2.0 entries of contracts.
var v2Contracts = []contract{
	{VersionCAS2020, "ListInstances", func() any { return new(v2ListInstances) }},
	{VersionCAS2020, "GetInstanceDetail", func() any { return new(v2InstanceDetail) }},
	{VersionCAS2020, "GetInstanceSummary", func() any { return new(v2InstanceSummary) }},
	{VersionCAS2020, "UpdateInstance", func() any { return new(v2RequestOnly) }},
	{VersionCAS2020, "ApplyCertificate", func() any { return new(v2RequestOnly) }},
	{VersionCAS2020, "GetTaskAttribute", func() any { return new(v2TaskAttribute) }},
	{VersionCAS2020, "CancelPendingCertificate", func() any { return new(v2RequestOnly) }},
	{VersionCAS2020, "ListCertificates", func() any { return new(v2ListCertificates) }},
	{VersionCAS2020, "RevokeCertificate", func() any { return new(v2RequestOnly) }},
	{VersionCAS2020, "ListContact", func() any { return new(v2ListContact) }},
	{VersionCAS2020, "CreateContact", func() any { return new(v2CreateContact) }},
	{VersionCAS2020, "GetContact", func() any { return new(v2GetContact) }},
}

// contractCAS2020V2 takes two instances through every state whose answer has its own shape:
// inactive, updated, pending without and with records, issued, revoked, withdrawn.
func contractCAS2020V2(t *testing.T, e *env) {
	call := okCaller(t, e, VersionCAS2020)
	contact := fmt.Sprint(call("CreateContact", "Name", "Ops", "Mobile", "13800000000", "Email", "ops@example.com").num("ContactId"))
	call("ListContact", "Keyword", "ops@example.com")
	call("GetContact", "ContactId", contact)
	call("GetInstanceSummary")
	list := call("ListInstances", "Status", "inactive", "CertificateType", "DV", "ShowSize", "100")
	items, _ := list.Body["InstanceList"].([]any)
	if len(items) < 2 {
		t.Fatalf("want two inactive instances: %s", list.Raw)
	}
	ids := []string{items[0].(map[string]any)["InstanceId"].(string), items[1].(map[string]any)["InstanceId"].(string)}
	update := func(id, cn string) {
		call("UpdateInstance", "InstanceId", id, "GenerateCsrMethod", "upload", "Csr", makeCSR(t, testKey(), cn, nil, nil),
			"KeyAlgorithm", "ECC_256", "ValidationMethod", "DNS", "ContactIdList.1", contact, "AutoReissue", "disable",
			"CertificateName", "cert-manager-contract", "Tags.1.TagKey", "cert-manager-certificate", "Tags.1.TagValue", "default/"+cn)
	}
	// Issued, then revoked.
	issued := ids[0]
	update(issued, "www.example.com")
	call("GetInstanceDetail", "InstanceId", issued)
	call("ApplyCertificate", "InstanceId", issued)
	call("GetTaskAttribute", "TaskId", issued, "TaskType", "ApplyCertificate")
	e.clock.Advance(3 * time.Second)
	call("GetTaskAttribute", "TaskId", issued, "TaskType", "ApplyCertificate")
	d := call("GetInstanceDetail", "InstanceId", issued)
	records, _ := d.Body["DomainValidationList"].([]any)
	if len(records) == 0 {
		t.Fatalf("no validation records: %s", d.Raw)
	}
	for _, r := range records {
		r := r.(map[string]any)
		e.addTXT(r["RootDomain"].(string), r["ValidationKey"].(string), r["ValidationValue"].(string))
	}
	d = call("GetInstanceDetail", "InstanceId", issued)
	cert := d.num("CertificateId")
	if d.str("Status") != "normal" || cert == 0 {
		t.Fatalf("not issued: %s", d.Raw)
	}
	call("GetUserCertificateDetail", "CertId", fmt.Sprint(cert))
	call("ListCertificates", "InstanceId", issued)
	call("ListInstances")
	call("RevokeCertificate", "InstanceId", issued, "CertificateId", fmt.Sprint(cert))
	call("ListInstances", "Keyword", "cert-manager-contract")
	call("GetInstanceDetail", "InstanceId", issued)
	// Withdrawn while pending.
	withdrawn := ids[1]
	update(withdrawn, "api.example.com")
	call("ApplyCertificate", "InstanceId", withdrawn)
	e.clock.Advance(3 * time.Second)
	e.c.call(VersionCAS2020, "CancelPendingCertificate", "InstanceId", withdrawn) // refused: an error shape
	e.clock.Advance(6 * time.Second)
	call("CancelPendingCertificate", "InstanceId", withdrawn)
	call("GetInstanceDetail", "InstanceId", withdrawn)
	call("GetInstanceSummary")
	// Errors have the common error shape.
	e.c.call(VersionCAS2020, "ApplyCertificate", "InstanceId", issued)
	e.c.call(VersionCAS2020, "GetInstanceDetail", "InstanceId", "cas_dv-cn-nope")
}
