package signer

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Upload APIs.
const (
	// UploadAPI20200407 is CAS 2020-04-07 UploadUserCertificate.
	UploadAPI20200407 = "2020-04-07"
	// UploadAPI20180713 is CAS 2018-07-13 CreateUserCertificate.
	UploadAPI20180713 = "2018-07-13"
)

// ReasonNameTaken: a certificate of the account has the upload's name but
// is another certificate.
const ReasonNameTaken = "NameTaken"

// lookupPageSize and lookupMaxPages bound the listing that looks for an
// upload before creating it.
const (
	lookupPageSize = 50
	lookupMaxPages = 20
)

// Upload is one certificate stored in CAS.
type Upload struct {
	CertID string
	Name   string
	// Found is set when the upload existed already (a lost answer, a
	// restart) and was not created by this call.
	Found bool
}

// Uploader stores certificates in the account's certificate list for one
// issuer's credentials. Its calls share one client (rate limit, throttle
// back-off, error classes).
type Uploader interface {
	// Ensure returns the upload named name that holds cert, uploading it
	// only when no such upload exists: the create has no idempotency
	// token, so a lost answer is found by name on the next call instead of
	// uploading again.
	Ensure(ctx context.Context, name string, cert *CheckedCertificate, tags map[string]string) (Upload, error)
	// Exists reports whether certID is still in the account.
	Exists(ctx context.Context, api, certID string) (bool, error)
	// Delete deletes certID; one that is gone already is no error.
	Delete(ctx context.Context, api, certID string) error
	// Region is the endpoint's region, the suffix of a CertIdentifier.
	Region() string
	// API is the API Ensure uploads with.
	API() string
}

// CertIdentifier is how load balancers, CDN and WAF name a CAS
// certificate: "<certId>-<region>".
func CertIdentifier(certID, region string) string { return certID + "-" + region }

// NewUploader builds an Uploader for an issuer configuration (only its
// endpoint, credentials and client limits are used) and an upload API.
func NewUploader(cfg Config, api string) (Uploader, error) {
	cfg = cfg.WithDefaults()
	if api == "" {
		api = UploadAPI20200407
	}
	if api != UploadAPI20200407 && api != UploadAPI20180713 {
		return nil, Issuer(ReasonInvalidConfig, fmt.Errorf("unknown upload API %q (want %s or %s)", api, UploadAPI20200407, UploadAPI20180713))
	}
	if err := cfg.Credentials.Validate(); err != nil {
		return nil, Issuer(ReasonInvalidConfig, err)
	}
	client, err := aliyun.New(cfg.clientOptions())
	if err != nil {
		return nil, Issuer(ReasonInvalidConfig, err)
	}
	return &uploader{client: client, api: api}, nil
}

type uploader struct {
	client *aliyun.Client
	api    string
}

func (u *uploader) Region() string { return u.client.Region() }
func (u *uploader) API() string    { return u.api }

func apiOf(version string) aliyun.API {
	if version == UploadAPI20180713 {
		return aliyun.CASLegacy
	}
	return aliyun.CAS
}

func (u *uploader) Ensure(ctx context.Context, name string, cert *CheckedCertificate, tags map[string]string) (Upload, error) {
	id, err := u.find(ctx, name, cert)
	if err != nil {
		return Upload{}, err
	}
	if id != "" {
		return Upload{CertID: id, Name: name, Found: true}, nil
	}
	chain, key := string(cert.ChainPEM), string(cert.KeyPEM)
	if u.api == UploadAPI20180713 {
		// This version takes no tags.
		id, err = u.client.CreateUserCertificate(ctx, name, chain, key)
	} else {
		id, err = u.client.UploadUserCertificate(ctx, name, chain, key, tags)
	}
	if err != nil {
		return Upload{}, withContext(err, "uploading %s", name)
	}
	return Upload{CertID: id, Name: name}, nil
}

// find looks for the upload named name. A certificate of that name that is
// not cert is an error: names are unique in the account, so it cannot be
// uploaded under that name.
func (u *uploader) find(ctx context.Context, name string, cert *CheckedCertificate) (string, error) {
	sha1sum := sha1.Sum(cert.Leaf.Raw)
	wantSHA1 := hex.EncodeToString(sha1sum[:])
	taken := func(id string) error {
		return Permanent(ReasonNameTaken, "CAS certificate %s is named %s but holds another certificate: choose another namePrefix", id, name)
	}
	for page := 1; page <= lookupMaxPages; page++ {
		if u.api == UploadAPI20180713 {
			// This version lists everything, without a keyword.
			list, err := u.client.DescribeUserCertificateList(ctx, page, lookupPageSize)
			if err != nil {
				return "", withContext(err, "looking for upload %s", name)
			}
			for _, c := range list.CertificateList {
				if c.Name != name {
					continue
				}
				if c.Fingerprint != "" && !strings.EqualFold(c.Fingerprint, wantSHA1) {
					return "", taken(string(c.ID))
				}
				return string(c.ID), nil
			}
			if page*lookupPageSize >= int(list.TotalCount) || len(list.CertificateList) == 0 {
				return "", nil
			}
			continue
		}
		list, err := u.client.ListUploadedCertificates(ctx, keyword(cert), page, lookupPageSize)
		if err != nil {
			return "", withContext(err, "looking for upload %s", name)
		}
		for _, c := range list.CertificateOrderList {
			if c.Name != name {
				continue
			}
			if c.Sha2 != "" && !strings.EqualFold(c.Sha2, cert.Fingerprint) {
				return "", taken(string(c.CertificateID))
			}
			return string(c.CertificateID), nil
		}
		if page*lookupPageSize >= int(list.TotalCount) || len(list.CertificateOrderList) == 0 {
			return "", nil
		}
	}
	return "", Transient("LookupIncomplete", 0, errors.New("too many certificates in the account to look for "+name))
}

// keyword is the domain the listing filters by (the documented keyword is
// a domain or a resource id, not a name): the leaf's CN, else its first
// DNS name.
func keyword(cert *CheckedCertificate) string {
	if cn := cert.Leaf.Subject.CommonName; cn != "" {
		return cn
	}
	if len(cert.Leaf.DNSNames) > 0 {
		return cert.Leaf.DNSNames[0]
	}
	return ""
}

func (u *uploader) Exists(ctx context.Context, api, certID string) (bool, error) {
	var err error
	if api == UploadAPI20180713 {
		_, err = u.client.DescribeUserCertificateInfo(ctx, certID)
	} else {
		_, err = u.client.GetUserCertificateDetail(ctx, certID)
	}
	if aliyun.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, withContext(err, "checking CAS certificate %s", certID)
	}
	return true, nil
}

func (u *uploader) Delete(ctx context.Context, api, certID string) error {
	err := u.client.DeleteUploadedCertificate(ctx, apiOf(api), certID)
	if err == nil || aliyun.IsNotFound(err) {
		return nil
	}
	return withContext(err, "deleting CAS certificate %s", certID)
}
