package aliyun

import (
	"context"
	"strconv"
	"strings"
)

// ---- CAS 2020-04-07, "SSL Certificate Management V2.0" (subscription instances) ----
//
// The classic SDK has no typed models for these actions; they go through Call like every other.
// Field types follow the cas-20200407 SDK models, decoded leniently: CertificateId is a number
// in GetInstanceDetail and ListInstances and a string in ListCertificates.

// Instance statuses (§2.1 of the V2.0 reference).
const (
	InstanceInactive   = "inactive"
	InstancePending    = "pending"
	InstanceNormal     = "normal"
	InstanceWillExpire = "willExpire"
	InstanceExpired    = "expired"
	InstanceRefund     = "refund"
	InstanceClosed     = "closed"
)

// CertificateIssued is the CertificateStatus of an issued latest certificate.
const CertificateIssued = "issued"

// CodeStatusNotSupport is the answer to an operation the instance's state does not allow
// (ApplyCertificate on a pending instance, CancelPendingCertificate with nothing to withdraw
// or in the seconds after the records appear).
const CodeStatusNotSupport = "OperationDenied.StatusNotSupport"

// InstanceTag is one tag of an instance.
type InstanceTag struct {
	Key   string `json:"TagKey"`
	Value string `json:"TagValue"`
}

// DomainValidation is one record the CA wants published. ValidationKey is relative to
// RootDomain ("@" is the apex).
type DomainValidation struct {
	Domain          string `json:"Domain"`
	RootDomain      string `json:"RootDomain"`
	ValidationType  string `json:"ValidationType"` // TXT, CNAME, HTTP (or FILE)
	ValidationKey   string `json:"ValidationKey"`
	ValidationValue string `json:"ValidationValue"`
	CnameKey        string `json:"CnameKey"`
	Cname           string `json:"Cname"`
}

// Instance is a ListInstances entry or a GetInstanceDetail answer (the detail-only fields
// are empty in a listing).
type Instance struct {
	RequestID           string     `json:"RequestId"`
	InstanceID          string     `json:"InstanceId"`
	Status              string     `json:"Status"`
	InstanceType        string     `json:"InstanceType"`
	CertificateType     string     `json:"CertificateType"`
	Spec                string     `json:"Spec"`
	Domain              string     `json:"Domain"`
	CertificateName     string     `json:"CertificateName"`
	KeyAlgorithm        string     `json:"KeyAlgorithm"`
	CertificateID       FlexString `json:"CertificateId"`
	CertificateStatus   string     `json:"CertificateStatus"`
	FullDomainCount     FlexInt    `json:"FullDomainCount"`
	WildcardDomainCount FlexInt    `json:"WildcardDomainCount"`
	InstanceEndTime     Timestamp  `json:"InstanceEndTime"`
	PendingResult       string     `json:"PendingResult"`
	// Detail only.
	CSR                  string             `json:"Csr"`
	GenerateCsrMethod    string             `json:"GenerateCsrMethod"`
	ValidationMethod     string             `json:"ValidationMethod"`
	ContactIDList        []FlexInt          `json:"ContactIdList"`
	Tags                 []InstanceTag      `json:"Tags"`
	DomainValidationList []DomainValidation `json:"DomainValidationList"`
	// AverageWaitingTime is the average issuance time of the instance's product, in
	// seconds (a string in the SDK model, e.g. "120").
	AverageWaitingTime FlexString `json:"AverageWaitingTime"`
}

// Tag returns the value of the tag key ("" when absent).
func (i *Instance) Tag(key string) string {
	for _, t := range i.Tags {
		if t.Key == key {
			return t.Value
		}
	}
	return ""
}

// InstanceQuery is the input of ListInstances.
type InstanceQuery struct {
	Status, CertificateType, InstanceType, Keyword string
	CurrentPage, ShowSize                          int
}

// InstanceList is ListInstances' answer.
type InstanceList struct {
	RequestID    string     `json:"RequestId"`
	TotalCount   FlexInt    `json:"TotalCount"`
	InstanceList []Instance `json:"InstanceList"`
}

// ListInstances lists one page of the account's subscription instances.
func (c *Client) ListInstances(ctx context.Context, q InstanceQuery) (*InstanceList, error) {
	p := map[string]string{}
	for k, v := range map[string]string{"Status": q.Status, "CertificateType": q.CertificateType, "InstanceType": q.InstanceType, "Keyword": q.Keyword} {
		if v != "" {
			p[k] = v
		}
	}
	if q.CurrentPage > 0 {
		p["CurrentPage"] = strconv.Itoa(q.CurrentPage)
	}
	if q.ShowSize > 0 {
		p["ShowSize"] = strconv.Itoa(q.ShowSize)
	}
	var out InstanceList
	if err := c.Call(ctx, CAS, "ListInstances", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetInstanceDetail reads one instance with its validation records and latest certificate.
func (c *Client) GetInstanceDetail(ctx context.Context, instanceID string) (*Instance, error) {
	var out Instance
	if err := c.Call(ctx, CAS, "GetInstanceDetail", map[string]string{"InstanceId": instanceID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// InstanceSummary is GetInstanceSummary's answer.
type InstanceSummary struct {
	RequestID        string  `json:"RequestId"`
	TotalCount       FlexInt `json:"TotalCount"`
	InactiveCount    FlexInt `json:"InactiveCount"`
	WillExpireCount  FlexInt `json:"WillExpireCount"`
	CertificateCount FlexInt `json:"CertificateCount"`
}

// GetInstanceSummary counts the account's instances.
func (c *Client) GetInstanceSummary(ctx context.Context) (*InstanceSummary, error) {
	var out InstanceSummary
	if err := c.Call(ctx, CAS, "GetInstanceSummary", map[string]string{}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// InstanceUpdate is the input of UpdateInstance with GenerateCsrMethod=upload.
type InstanceUpdate struct {
	InstanceID       string
	CSR              string // PEM
	KeyAlgorithm     string // RSA_2048, RSA_3072, RSA_4096, ECC_256
	ValidationMethod string // DNS or HTTP
	ContactIDs       []int64
	CertificateName  string
	AutoReissue      string // enable or disable
	Tags             []InstanceTag
}

// UpdateInstance writes an application onto an instance. It is never retried; it may submit
// the application by itself (auto-submit, observed on BUY DV instances).
func (c *Client) UpdateInstance(ctx context.Context, u InstanceUpdate) error {
	p := map[string]string{
		"InstanceId": u.InstanceID, "GenerateCsrMethod": "upload", "Csr": u.CSR,
		"KeyAlgorithm": u.KeyAlgorithm, "ValidationMethod": u.ValidationMethod,
	}
	if u.CertificateName != "" {
		p["CertificateName"] = u.CertificateName
	}
	if u.AutoReissue != "" {
		p["AutoReissue"] = u.AutoReissue
	}
	for i, id := range u.ContactIDs {
		p["ContactIdList."+strconv.Itoa(i+1)] = strconv.FormatInt(id, 10)
	}
	for i, t := range u.Tags {
		n := strconv.Itoa(i + 1)
		p["Tags."+n+".TagKey"], p["Tags."+n+".TagValue"] = t.Key, t.Value
	}
	return c.Call(ctx, CAS, "UpdateInstance", p, nil)
}

// ApplyCertificate submits what the instance holds. The answer carries no id; its progress
// is GetTaskAttribute(TaskId=instance id), then GetInstanceDetail.
func (c *Client) ApplyCertificate(ctx context.Context, instanceID string) error {
	return c.Call(ctx, CAS, "ApplyCertificate", map[string]string{"InstanceId": instanceID}, nil)
}

// Task statuses of GetTaskAttribute (lower case as documented; compare with EqualFold, and
// take the spellings seen elsewhere, COMPLETED and PENDING, as the same).
const (
	TaskSuccess    = "success"
	TaskProcessing = "processing"
	TaskFailed     = "failed"
)

// TaskAttribute is GetTaskAttribute's answer.
type TaskAttribute struct {
	RequestID   string `json:"RequestId"`
	TaskStatus  string `json:"TaskStatus"`
	TaskMessage string `json:"TaskMessage"`
}

// Normalized is TaskStatus as one of the Task* constants ("" when unknown).
func (t *TaskAttribute) Normalized() string {
	switch strings.ToLower(t.TaskStatus) {
	case TaskSuccess, "completed", "succeeded":
		return TaskSuccess
	case TaskProcessing, "pending", "running":
		return TaskProcessing
	case TaskFailed, "failure":
		return TaskFailed
	}
	return ""
}

// GetTaskAttribute reports the submission of an instance's application (TaskId is the
// instance id, as the zh and ja documents say).
func (c *Client) GetTaskAttribute(ctx context.Context, instanceID string) (*TaskAttribute, error) {
	var out TaskAttribute
	err := c.Call(ctx, CAS, "GetTaskAttribute", map[string]string{"TaskId": instanceID, "TaskType": "ApplyCertificate"}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelPendingCertificate withdraws an instance's application; the withdrawal lands
// asynchronously (the instance stays pending for a while).
func (c *Client) CancelPendingCertificate(ctx context.Context, instanceID string) error {
	return c.Call(ctx, CAS, "CancelPendingCertificate", map[string]string{"InstanceId": instanceID}, nil)
}

// IssuedCertificate is GetUserCertificateDetail's answer.
type IssuedCertificate struct {
	RequestID  string     `json:"RequestId"`
	ID         FlexString `json:"Id"`
	InstanceID string     `json:"InstanceId"`
	Cert       string     `json:"Cert"`
	Common     string     `json:"Common"`
	Sans       string     `json:"Sans"`
}

// DownloadCertificate is GetUserCertificateDetail with the PEM (CertFilter=false): the
// V2.0 download, by GetInstanceDetail's CertificateId.
func (c *Client) DownloadCertificate(ctx context.Context, certID string) (*IssuedCertificate, error) {
	var out IssuedCertificate
	if err := c.Call(ctx, CAS, "GetUserCertificateDetail", map[string]string{"CertId": certID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Contact is one CAS contact.
type Contact struct {
	ContactID FlexInt `json:"ContactId"`
	Name      string  `json:"Name"`
	Email     string  `json:"Email"`
	Mobile    string  `json:"Mobile"`
}

// ContactList is ListContact's answer.
type ContactList struct {
	RequestID   string    `json:"RequestId"`
	TotalCount  FlexInt   `json:"TotalCount"`
	ContactList []Contact `json:"ContactList"`
}

// ListContact lists the contacts matching keyword (name, e-mail or phone), first page of 100.
func (c *Client) ListContact(ctx context.Context, keyword string) (*ContactList, error) {
	p := map[string]string{"ShowSize": "100"}
	if keyword != "" {
		p["Keyword"] = keyword
	}
	var out ContactList
	if err := c.Call(ctx, CAS, "ListContact", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateContact creates a contact and returns its id. It is never retried.
func (c *Client) CreateContact(ctx context.Context, name, email, mobile string) (int64, error) {
	var out struct {
		RequestID string  `json:"RequestId"`
		ContactID FlexInt `json:"ContactId"`
	}
	if err := c.Call(ctx, CAS, "CreateContact", map[string]string{"Name": name, "Email": email, "Mobile": mobile}, &out); err != nil {
		return 0, err
	}
	if out.ContactID == 0 {
		return 0, missingField(CAS, "CreateContact", out.RequestID, "ContactId")
	}
	return int64(out.ContactID), nil
}
