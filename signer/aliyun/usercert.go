package aliyun

import (
	"context"
	"sort"
	"strconv"
	"strings"
)

// Uploaded certificates (the account's certificate list), in both CAS
// versions. Field names follow Alibaba's generated SDK models:
// cas-20200407 upload_user_certificate_*, list_user_certificate_order_*,
// get_user_certificate_detail_*, delete_user_certificate_*; and the CAS
// 2018-07-13 reference for CreateUserCertificate and
// DescribeUserCertificateList/Detail.

// Region is the region of the CAS endpoint (cn-hangzhou for
// cas.aliyuncs.com): the suffix of a certificate's CertIdentifier.
func (c *Client) Region() string { return c.region }

// UploadUserCertificate (2020-04-07) stores a certificate chain and its key
// under a name unique in the account, with tags, and returns the new
// CertId. It is never retried (see Call): the create has no idempotency
// token.
func (c *Client) UploadUserCertificate(ctx context.Context, name, certPEM, keyPEM string, tags map[string]string) (string, error) {
	p := map[string]string{"Name": name, "Cert": certPEM, "Key": keyPEM}
	// Tags.N.Key / Tags.N.Value, 1-based, in a stable order.
	keys := make([]string, 0, len(tags))
	for k := range tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for i, k := range keys {
		n := strconv.Itoa(i + 1)
		p["Tags."+n+".Key"] = k
		p["Tags."+n+".Value"] = tags[k]
	}
	var out struct {
		RequestID  string     `json:"RequestId"`
		CertID     FlexString `json:"CertId"`
		ResourceID string     `json:"ResourceId"`
	}
	if err := c.Call(ctx, CAS, "UploadUserCertificate", p, &out); err != nil {
		return "", err
	}
	if out.CertID == "" || out.CertID == "0" {
		return "", missingField(CAS, "UploadUserCertificate", out.RequestID, "CertId")
	}
	return string(out.CertID), nil
}

// UploadedCertificate is an uploaded certificate as
// ListUserCertificateOrder (OrderType UPLOAD) lists it.
type UploadedCertificate struct {
	CertificateID FlexString `json:"CertificateId"`
	Name          string     `json:"Name"`
	CommonName    string     `json:"CommonName"`
	// Sha2 is the SHA-256 of the certificate, upper-case hex; Fingerprint
	// its SHA-1.
	Sha2        string   `json:"Sha2"`
	Fingerprint string   `json:"Fingerprint"`
	Upload      FlexBool `json:"Upload"`
}

// UploadedCertificateList is one page of ListUserCertificateOrder.
type UploadedCertificateList struct {
	RequestID            string                `json:"RequestId"`
	TotalCount           FlexInt               `json:"TotalCount"`
	CertificateOrderList []UploadedCertificate `json:"CertificateOrderList"`
}

// ListUploadedCertificates lists one page of the uploaded certificates
// matching keyword (documented as "a domain name or a resource ID", a fuzzy
// match). Without a Status the API lists the active ones (ISSUED and
// WILLEXPIRED), which is what a sync can upload.
func (c *Client) ListUploadedCertificates(ctx context.Context, keyword string, page, size int) (*UploadedCertificateList, error) {
	p := map[string]string{"OrderType": "UPLOAD", "CurrentPage": strconv.Itoa(page), "ShowSize": strconv.Itoa(size)}
	if keyword != "" {
		p["Keyword"] = keyword
	}
	var out UploadedCertificateList
	if err := c.Call(ctx, CAS, "ListUserCertificateOrder", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// GetUserCertificateDetail (2020-04-07) reports that a certificate exists,
// without its PEM or key (CertFilter=true).
func (c *Client) GetUserCertificateDetail(ctx context.Context, certID string) (*UserCertificateInfo, error) {
	var out UserCertificateInfo
	err := c.Call(ctx, CAS, "GetUserCertificateDetail", map[string]string{"CertId": certID, "CertFilter": "true"}, &out)
	if err != nil {
		return nil, err
	}
	return &out, nil
}

// UserCertificateInfo is the part of a certificate's detail a sync reads.
// It has no field for the PEM or the key: they are never decoded.
type UserCertificateInfo struct {
	RequestID   string     `json:"RequestId"`
	ID          FlexString `json:"Id"`
	Name        string     `json:"Name"`
	Fingerprint string     `json:"Fingerprint"`
	Expired     FlexBool   `json:"Expired"`
}

// DescribeUserCertificateInfo (2018-07-13) reports that a certificate
// exists. This version has no filter: the answer carries the key, which
// UserCertificateInfo does not decode.
func (c *Client) DescribeUserCertificateInfo(ctx context.Context, certID string) (*UserCertificateInfo, error) {
	var out UserCertificateInfo
	if err := c.Call(ctx, CASLegacy, "DescribeUserCertificateDetail", map[string]string{"CertId": certID}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DeleteUploadedCertificate deletes a stored certificate with the given CAS
// version (DeleteUserCertificate exists in both).
func (c *Client) DeleteUploadedCertificate(ctx context.Context, api API, certID string) error {
	return c.Call(ctx, api, "DeleteUserCertificate", map[string]string{"CertId": certID}, nil)
}

// IsNotFound reports an answer saying the named thing does not exist
// (e.g. InvalidCertId.NotFound, the code Alibaba's deployment tools report
// for an unknown certificate; the exact code per action is unverified, so
// any "NotFound"/"NotExist" code counts). Unknown AccessKeys
// (InvalidAccessKeyId.NotFound) are not "not found" but bad credentials.
func IsNotFound(err error) bool {
	e, ok := AsError(err)
	if !ok || e.HTTPStatus == 0 || e.Reason == ReasonInvalidCredentials {
		return false
	}
	lc := strings.ToLower(e.Code)
	return strings.Contains(lc, "notfound") || strings.Contains(lc, "notexist")
}
