package aliyunsim

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The account's certificate list, shared by both CAS versions: certificates issued through
// orders and certificates the user uploaded.

const maxCertName = 64

// uploadCert checks and stores a user certificate (CreateUserCertificate and
// UploadUserCertificate). The name must be unique; the certificate and key must parse and
// belong together.
func (s *Simulator) uploadCert(name, certPEM, keyPEM string) (*userCert, *apiError) {
	if len([]rune(name)) > maxCertName {
		return nil, errInvalidParam("Name", "longer than %d characters", maxCertName)
	}
	for _, c := range s.st.certs {
		if c.name == name {
			return nil, badRequest("InvalidParameter.NameDuplicate", "A certificate named %q already exists.", name)
		}
	}
	leaf, _, err := decodeLeaf(certPEM)
	if err != nil {
		return nil, badRequest("InvalidParameter.Cert", "The certificate cannot be parsed: %v", err)
	}
	key, err := parseKeyPEM([]byte(strings.TrimSpace(keyPEM)))
	if err != nil {
		return nil, badRequest("InvalidParameter.Key", "The private key cannot be parsed: %v", err)
	}
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		return nil, badRequest("InvalidParameter.KeyMismatch", "The private key does not match the certificate.")
	}
	s.st.nextCert++
	// Stored as PEM text ending in a newline, however the parameter was trimmed.
	certPEM, keyPEM = strings.TrimSpace(certPEM)+"\n", strings.TrimSpace(keyPEM)+"\n"
	c := &userCert{id: s.st.nextCert, name: name, certPEM: certPEM, keyPEM: keyPEM, leaf: leaf, upload: true, created: s.now()}
	s.st.certs[c.id] = c
	return c, nil
}

func (s *Simulator) findCert(c *call) (*userCert, *apiError) {
	id, e := c.idParam("CertId")
	if e != nil {
		return nil, e
	}
	cert, ok := s.st.certs[id]
	if !ok {
		return nil, newErr(http.StatusNotFound, "InvalidCertId.NotFound", "The certificate %d does not exist.", id)
	}
	return cert, nil
}

// certDetail is the detail both versions answer, in upper-camel keys (the 2018-07-13 shape;
// GetUserCertificateDetail adds its own fields).
func (s *Simulator) certDetail(c *userCert, withPEM bool) obj {
	l := c.leaf
	now := s.now()
	m := obj{
		"Id":          c.id,
		"Name":        c.name,
		"Common":      l.Subject.CommonName,
		"Sans":        strings.Join(l.DNSNames, ","),
		"Fingerprint": fingerprint(l),
		"Issuer":      issuerName(l),
		"OrgName":     firstOr(l.Subject.Organization),
		"Province":    firstOr(l.Subject.Province),
		"City":        firstOr(l.Subject.Locality),
		"Country":     firstOr(l.Subject.Country),
		"StartDate":   l.NotBefore.UTC().Format("2006-01-02"),
		"EndDate":     l.NotAfter.UTC().Format("2006-01-02"),
		"Expired":     !now.Before(l.NotAfter),
		"BuyInAliyun": !c.upload,
	}
	if withPEM {
		m["Cert"] = s.pemOut(c.certPEM)
		m["Key"] = s.pemOut(c.keyPEM)
	}
	return m
}

// certListItem is a certificate as ListUserCertificateOrder (OrderType CERT/UPLOAD) lists it.
func (s *Simulator) certListItem(c *userCert, now time.Time) obj {
	l := c.leaf
	sha := sha256.Sum256(l.Raw)
	return obj{
		"CertificateId": c.id,
		"Name":          c.name,
		"CommonName":    l.Subject.CommonName,
		"Domain":        l.Subject.CommonName,
		"Sans":          strings.Join(l.DNSNames, ","),
		"Fingerprint":   fingerprint(l),
		"Sha2":          strings.ToUpper(hex.EncodeToString(sha[:])),
		"SerialNo":      strings.ToUpper(l.SerialNumber.Text(16)),
		"Issuer":        issuerName(l),
		"OrgName":       firstOr(l.Subject.Organization),
		"Province":      firstOr(l.Subject.Province),
		"City":          firstOr(l.Subject.Locality),
		"Country":       firstOr(l.Subject.Country),
		"StartDate":     l.NotBefore.UTC().Format("2006-01-02"),
		"EndDate":       l.NotAfter.UTC().Format("2006-01-02"),
		"CertStartTime": l.NotBefore.UnixMilli(),
		"CertEndTime":   l.NotAfter.UnixMilli(),
		"Expired":       !now.Before(l.NotAfter),
		"Upload":        c.upload,
		"Status":        certStatus(l, now),
		"OrderId":       c.orderID,
		"InstanceId":    c.instance,
	}
}

// fingerprint is the SHA-1 of the DER certificate in upper-case hex, as the console shows it.
func fingerprint(c *x509.Certificate) string {
	sum := sha1.Sum(c.Raw)
	return strings.ToUpper(hex.EncodeToString(sum[:]))
}

func issuerName(c *x509.Certificate) string {
	if len(c.Issuer.Organization) > 0 {
		return c.Issuer.Organization[0]
	}
	return c.Issuer.CommonName
}

func firstOr(v []string) string {
	if len(v) > 0 {
		return v[0]
	}
	return ""
}

// paginate returns the bounds of page (1-based) of size over n items.
func paginate(n int, page, size int64) (int, int) {
	start := (page - 1) * size
	if start >= int64(n) {
		return n, n
	}
	end := min(start+size, int64(n))
	return int(start), int(end)
}

// maxUploadTags bounds Tags.N of UploadUserCertificate (the usual limit of Alibaba Cloud
// resource tags; unverified for this action).
const maxUploadTags = 20

// uploadTags reads Tags.N.Key / Tags.N.Value (1-based, as the SDK flattens the Tags list of
// upload_user_certificate_request_model.go).
func uploadTags(c *call) (map[string]string, *apiError) {
	tags := map[string]string{}
	for n := 1; ; n++ {
		prefix := "Tags." + strconv.Itoa(n) + "."
		k, hasK := c.params[prefix+"Key"]
		v, hasV := c.params[prefix+"Value"]
		if !hasK && !hasV {
			break
		}
		if n > maxUploadTags {
			return nil, errInvalidParam("Tags", "more than %d tags", maxUploadTags)
		}
		if strings.TrimSpace(k) == "" {
			return nil, errInvalidParam(prefix+"Key", "empty tag key")
		}
		tags[k] = v
	}
	return tags, nil
}

// tagUpload attaches tags to the certificate an upload answered with, and gives the answer the
// upload's resource id (cas-upload-…, as upload_user_certificate_response_body_model.go shows).
func (s *Simulator) tagUpload(resp obj, tags map[string]string) {
	id, _ := resp["CertId"].(int64)
	uc, ok := s.st.certs[id]
	if !ok {
		return
	}
	if len(tags) > 0 {
		uc.tags = tags
	}
	resp["ResourceId"] = "cas-upload-" + strconv.FormatInt(id, 36)
}

func copyTags(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
