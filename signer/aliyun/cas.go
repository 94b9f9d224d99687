package aliyun

import (
	"context"
	"strconv"
	"strings"
	"time"
)

// ---- CAS 2020-04-07 ----

// CSROrder is the input of CreateCertificateWithCsrRequest.
type CSROrder struct {
	CSR          string // PEM
	ProductCode  string
	Username     string
	Phone        string
	Email        string
	ValidateType string // DNS | FILE
}

// CreateCertificateWithCsrRequest orders a certificate for a CSR and returns
// the order id. It is never retried: see Call.
func (c *Client) CreateCertificateWithCsrRequest(ctx context.Context, o CSROrder) (int64, error) {
	p := map[string]string{
		"Csr":          o.CSR,
		"Username":     o.Username,
		"Phone":        o.Phone,
		"Email":        o.Email,
		"ValidateType": o.ValidateType,
	}
	if o.ProductCode != "" {
		p["ProductCode"] = o.ProductCode
	}
	var out struct {
		RequestID string  `json:"RequestId"`
		OrderID   FlexInt `json:"OrderId"`
	}
	if err := c.Call(ctx, CAS, "CreateCertificateWithCsrRequest", p, &out); err != nil {
		return 0, err
	}
	if out.OrderID == 0 {
		// A success without an id: the order may exist; treat it like a
		// lost answer.
		return 0, missingField(CAS, "CreateCertificateWithCsrRequest", out.RequestID, "OrderId")
	}
	return int64(out.OrderID), nil
}

// Certificate order states reported by DescribeCertificateState.
const (
	StateDomainVerify = "domain_verify"
	StateProcess      = "process"
	StateVerifyFail   = "verify_fail"
	StateCertificate  = "certificate"
	StatePayed        = "payed"
	StateUnknown      = "unknow" // sic
)

// CertificateState is DescribeCertificateState's answer.
type CertificateState struct {
	RequestID string `json:"RequestId"`
	// Type is one of the State* constants.
	Type         string `json:"Type"`
	Domain       string `json:"Domain"`
	ValidateType string `json:"ValidateType"`
	// DNS validation: host record (relative, e.g. "_dnsauth", or a full
	// name), record type and value.
	RecordDomain string `json:"RecordDomain"`
	RecordType   string `json:"RecordType"`
	RecordValue  string `json:"RecordValue"`
	// FILE validation: path and content.
	URI     string `json:"Uri"`
	Content string `json:"Content"`
	// Issued: PEM certificate (chain) and, for server-generated keys, the key.
	Certificate string     `json:"Certificate"`
	PrivateKey  string     `json:"PrivateKey"`
	CertID      FlexString `json:"CertId"`
}

// DescribeCertificateState reports an order's state.
func (c *Client) DescribeCertificateState(ctx context.Context, orderID int64) (*CertificateState, error) {
	var out CertificateState
	err := c.Call(ctx, CAS, "DescribeCertificateState", map[string]string{"OrderId": strconv.FormatInt(orderID, 10)}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// CancelOrderRequest returns a pending order to the "payed" state.
func (c *Client) CancelOrderRequest(ctx context.Context, orderID int64) error {
	return c.Call(ctx, CAS, "CancelOrderRequest", map[string]string{"OrderId": strconv.FormatInt(orderID, 10)}, nil)
}

// DeleteCertificateRequest deletes a failed or cancelled order, which gives
// its quota back.
func (c *Client) DeleteCertificateRequest(ctx context.Context, orderID int64) error {
	return c.Call(ctx, CAS, "DeleteCertificateRequest", map[string]string{"OrderId": strconv.FormatInt(orderID, 10)}, nil)
}

// PackageState is a certificate package's quota.
type PackageState struct {
	RequestID   string  `json:"RequestId"`
	ProductCode string  `json:"ProductCode"`
	TotalCount  FlexInt `json:"TotalCount"`
	UsedCount   FlexInt `json:"UsedCount"`
	IssuedCount FlexInt `json:"IssuedCount"`
}

// DescribePackageState reports the quota of a product's package.
func (c *Client) DescribePackageState(ctx context.Context, productCode string) (*PackageState, error) {
	p := map[string]string{}
	if productCode != "" {
		p["ProductCode"] = productCode
	}
	var out PackageState
	if err := c.Call(ctx, CAS, "DescribePackageState", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OrderQuery is the input of ListUserCertificateOrder.
type OrderQuery struct {
	OrderType   string // CPACK | BUY | UPLOAD | CERT
	Status      string // PAYED, CHECKING, CHECKED_FAIL, ISSUED, ...
	Keyword     string
	ShowSize    int
	CurrentPage int
}

// CertificateOrder is one item of ListUserCertificateOrder. Which fields are
// filled depends on the order type: package orders (CPACK) carry only
// Domain (the main domain), BuyDate, CertStartTime/CertEndTime, OrderId and
// Status; CommonName, Sans and CertificateId come with CERT/UPLOAD. No
// listing has CreateTime or GmtCreate.
type CertificateOrder struct {
	OrderID       FlexInt    `json:"OrderId"`
	InstanceID    FlexString `json:"InstanceId"`
	Domain        string     `json:"Domain"`
	CommonName    string     `json:"CommonName"`
	Sans          string     `json:"Sans"`
	Status        string     `json:"Status"`
	ProductCode   string     `json:"ProductCode"`
	BuyDate       Timestamp  `json:"BuyDate"`
	CertStartTime Timestamp  `json:"CertStartTime"`
	CertEndTime   Timestamp  `json:"CertEndTime"`
}

// Created is when the order was placed (BuyDate), zero when the answer
// does not say.
func (o CertificateOrder) Created() time.Time { return o.BuyDate.Time }

// Names are the order's domain names, lower-cased, without duplicates.
func (o CertificateOrder) Names() []string {
	seen := map[string]bool{}
	var names []string
	add := func(s string) {
		for _, n := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' || r == ';' || r == '\n' }) {
			n = strings.ToLower(strings.TrimSpace(n))
			if n != "" && !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	add(o.CommonName)
	add(o.Domain)
	add(o.Sans)
	return names
}

// CertificateOrderList is ListUserCertificateOrder's answer.
type CertificateOrderList struct {
	RequestID            string             `json:"RequestId"`
	TotalCount           FlexInt            `json:"TotalCount"`
	ShowSize             FlexInt            `json:"ShowSize"`
	CurrentPage          FlexInt            `json:"CurrentPage"`
	CertificateOrderList []CertificateOrder `json:"CertificateOrderList"`
}

// ListUserCertificateOrder lists one page of the account's orders.
func (c *Client) ListUserCertificateOrder(ctx context.Context, q OrderQuery) (*CertificateOrderList, error) {
	p := map[string]string{}
	set := func(k, v string) {
		if v != "" {
			p[k] = v
		}
	}
	set("OrderType", q.OrderType)
	set("Status", q.Status)
	set("Keyword", q.Keyword)
	if q.ShowSize > 0 {
		p["ShowSize"] = strconv.Itoa(q.ShowSize)
	}
	if q.CurrentPage > 0 {
		p["CurrentPage"] = strconv.Itoa(q.CurrentPage)
	}
	var out CertificateOrderList
	if err := c.Call(ctx, CAS, "ListUserCertificateOrder", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// ---- CAS 2018-07-13 ----

// DVOrderAudit is the input of CreateDVOrderAudit.
type DVOrderAudit struct {
	InstanceID string
	// Domains are joined with commas.
	Domains          []string
	DomainVerifyType string // DNS | FILE
	Username, Email  string
	Mobile           string
	Province, City   string
}

// CreateDVOrderAudit applies for the certificate of a purchased instance.
func (c *Client) CreateDVOrderAudit(ctx context.Context, a DVOrderAudit) error {
	return c.Call(ctx, CASLegacy, "CreateDVOrderAudit", map[string]string{
		"InstanceId":       a.InstanceID,
		"Domain":           strings.Join(a.Domains, ","),
		"DomainVerifyType": a.DomainVerifyType,
		"Username":         a.Username,
		"Email":            a.Email,
		"Mobile":           a.Mobile,
		"Province":         a.Province,
		"City":             a.City,
	}, nil)
}

// DV order states reported by DescribeDVOrderResult.
const (
	DVStatusChecking    = "checking"
	DVStatusIssued      = "issued"
	DVStatusCheckedFail = "checked_fail"
	DVStatusCheckFail   = "check_fail" // older spelling
)

// DVOrderResult is DescribeDVOrderResult's answer.
type DVOrderResult struct {
	RequestID   string `json:"RequestId"`
	OrderStatus string `json:"OrderStatus"`
	CheckName   string `json:"CheckName"`
	CheckType   string `json:"CheckType"`
	CheckValue  string `json:"CheckValue"`
	Certificate string `json:"Certificate"`
	PrivateKey  string `json:"PrivateKey"`
}

// DescribeDVOrderResult reports the state of an instance's DV order.
func (c *Client) DescribeDVOrderResult(ctx context.Context, instanceID string) (*DVOrderResult, error) {
	var out DVOrderResult
	if err := c.Call(ctx, CASLegacy, "DescribeDVOrderResult", map[string]string{"InstanceId": instanceID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// OrderInstance is one purchased certificate instance.
type OrderInstance struct {
	ID         FlexString `json:"Id"`
	InstanceID string     `json:"InstanceId"`
	CertType   string     `json:"CertType"`
	Source     string     `json:"Source"`
	Status     string     `json:"Status"`
}

// OrderInstanceList is DescribeOrderInstanceList's answer.
type OrderInstanceList struct {
	RequestID  string          `json:"RequestId"`
	TotalCount FlexInt         `json:"TotalCount"`
	OrderList  []OrderInstance `json:"OrderList"`
}

// DescribeOrderInstanceList lists purchased instances from startIndex.
func (c *Client) DescribeOrderInstanceList(ctx context.Context, startIndex int) (*OrderInstanceList, error) {
	var out OrderInstanceList
	if err := c.Call(ctx, CASLegacy, "DescribeOrderInstanceList", map[string]string{"StartIndex": strconv.Itoa(startIndex)}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UserCertificate is one item of DescribeUserCertificateList (lower-camel
// keys in this version).
type UserCertificate struct {
	ID          FlexString `json:"id"`
	Name        string     `json:"name"`
	Common      string     `json:"common"`
	Sans        string     `json:"sans"`
	Fingerprint string     `json:"fingerprint"`
	Issuer      string     `json:"issuer"`
	StartDate   string     `json:"startDate"`
	EndDate     string     `json:"endDate"`
	Expired     FlexBool   `json:"expired"`
	BuyInAliyun FlexBool   `json:"buyInAliyun"`
}

// UserCertificateList is DescribeUserCertificateList's answer.
type UserCertificateList struct {
	RequestID       string            `json:"RequestId"`
	TotalCount      FlexInt           `json:"TotalCount"`
	CurrentPage     FlexInt           `json:"CurrentPage"`
	ShowSize        FlexInt           `json:"ShowSize"`
	CertificateList []UserCertificate `json:"CertificateList"`
}

// DescribeUserCertificateList lists one page of stored certificates.
func (c *Client) DescribeUserCertificateList(ctx context.Context, currentPage, showSize int) (*UserCertificateList, error) {
	p := map[string]string{}
	if currentPage > 0 {
		p["CurrentPage"] = strconv.Itoa(currentPage)
	}
	if showSize > 0 {
		p["ShowSize"] = strconv.Itoa(showSize)
	}
	var out UserCertificateList
	if err := c.Call(ctx, CASLegacy, "DescribeUserCertificateList", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// UserCertificateDetail is DescribeUserCertificateDetail's answer.
type UserCertificateDetail struct {
	RequestID   string     `json:"RequestId"`
	ID          FlexString `json:"Id"`
	Name        string     `json:"Name"`
	Common      string     `json:"Common"`
	Sans        string     `json:"Sans"`
	Fingerprint string     `json:"Fingerprint"`
	Issuer      string     `json:"Issuer"`
	StartDate   string     `json:"StartDate"`
	EndDate     string     `json:"EndDate"`
	Expired     FlexBool   `json:"Expired"`
	BuyInAliyun FlexBool   `json:"BuyInAliyun"`
	Cert        string     `json:"Cert"`
	Key         string     `json:"Key"`
}

// DescribeUserCertificateDetail returns a stored certificate (and its key).
func (c *Client) DescribeUserCertificateDetail(ctx context.Context, certID string) (*UserCertificateDetail, error) {
	var out UserCertificateDetail
	if err := c.Call(ctx, CASLegacy, "DescribeUserCertificateDetail", map[string]string{"CertId": certID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// CreateUserCertificate stores a certificate and key under a unique name.
func (c *Client) CreateUserCertificate(ctx context.Context, name, certPEM, keyPEM string) (string, error) {
	var out struct {
		RequestID string     `json:"RequestId"`
		CertID    FlexString `json:"CertId"`
	}
	if err := c.Call(ctx, CASLegacy, "CreateUserCertificate", map[string]string{"Name": name, "Cert": certPEM, "Key": keyPEM}, &out); err != nil {
		return "", err
	}
	if out.CertID == "" {
		return "", missingField(CASLegacy, "CreateUserCertificate", out.RequestID, "CertId")
	}
	return string(out.CertID), nil
}

// DeleteUserCertificate deletes a stored certificate.
func (c *Client) DeleteUserCertificate(ctx context.Context, certID string) error {
	return c.Call(ctx, CASLegacy, "DeleteUserCertificate", map[string]string{"CertId": certID}, nil)
}
