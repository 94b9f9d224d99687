package signer

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"net"
	"strings"
)

// Reasons of the permanent errors the local checks return.
const (
	ReasonBadCSR             = "BadCSR"
	ReasonUnsupportedKey     = "UnsupportedKey"
	ReasonUnsupportedSAN     = "UnsupportedSAN"
	ReasonCANotSupported     = "CANotSupported"
	ReasonNoNames            = "NoNames"
	ReasonInvalidName        = "InvalidName"
	ReasonWildcardNotAllowed = "WildcardNotAllowed"
	ReasonUnsupportedUsage   = "UnsupportedUsage"
)

// RSA key sizes CAS signs.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// CheckedCSR is a CSR that passed the local checks.
type CheckedCSR struct {
	CSR *x509.CertificateRequest
	// Names are the DNS names the certificate covers: the Common Name (when
	// set) first, then the DNS SANs; lower case, without duplicates.
	Names []string
	// CommonName is the CSR's Common Name, lower case ("" when absent).
	CommonName string
	// MainDomain is the order's main domain: the Common Name, else the
	// first DNS SAN.
	MainDomain string
	// Key describes the public key, e.g. "RSA 2048" or "ECDSA P-256".
	Key string
}

// HasWildcard reports whether any name is a wildcard.
func (c *CheckedCSR) HasWildcard() bool {
	for _, n := range c.Names {
		if strings.HasPrefix(n, "*.") {
			return true
		}
	}
	return false
}

// CheckCSR parses a PEM CSR and checks everything CAS would refuse, so that
// no remote call is made for a request that cannot succeed: the PEM and the
// self-signature, the key (RSA 2048-8192 bits, ECDSA P-256 or P-384), DNS
// names only (no IP, URI or e-mail SANs), no CA basic constraint, at least
// one syntactically valid name. Failures are *PermanentError.
func CheckCSR(csrPEM []byte) (*CheckedCSR, error) {
	block, _ := pem.Decode(csrPEM)
	if block == nil {
		return nil, Permanent(ReasonBadCSR, "the CSR is not PEM-encoded")
	}
	if block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST" {
		return nil, Permanent(ReasonBadCSR, "the CSR PEM block is %q, not \"CERTIFICATE REQUEST\"", block.Type)
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, Permanent(ReasonBadCSR, "the CSR cannot be parsed: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, Permanent(ReasonBadCSR, "the CSR's signature is invalid: %v", err)
	}
	key, err := checkKey(csr.PublicKey)
	if err != nil {
		return nil, err
	}
	if len(csr.IPAddresses) > 0 {
		return nil, Permanent(ReasonUnsupportedSAN, "CAS issues DNS names only; the CSR has IP address SANs %v", csr.IPAddresses)
	}
	if len(csr.URIs) > 0 {
		uris := make([]string, len(csr.URIs))
		for i, u := range csr.URIs {
			uris[i] = u.String()
		}
		return nil, Permanent(ReasonUnsupportedSAN, "CAS issues DNS names only; the CSR has URI SANs %v", uris)
	}
	if kinds, err := unsupportedGeneralNames(csr); err != nil {
		return nil, Permanent(ReasonBadCSR, "%v", err)
	} else if len(kinds) > 0 {
		return nil, Permanent(ReasonUnsupportedSAN, "CAS issues DNS names only; the CSR has %v SANs, which the certificate would silently lack", kinds)
	}
	if len(csr.EmailAddresses) > 0 {
		return nil, Permanent(ReasonUnsupportedSAN, "CAS issues DNS names only; the CSR has e-mail SANs %v", csr.EmailAddresses)
	}
	if isCA, err := csrRequestsCA(csr); err != nil {
		return nil, Permanent(ReasonBadCSR, "the CSR's basic constraints cannot be parsed: %v", err)
	} else if isCA {
		return nil, Permanent(ReasonCANotSupported, "CAS issues TLS server certificates only; the CSR asks for a CA certificate")
	}

	cn := strings.ToLower(strings.TrimSpace(csr.Subject.CommonName))
	var names []string
	seen := map[string]bool{}
	add := func(n, what string) error {
		n = strings.ToLower(strings.TrimSpace(n))
		if err := checkDNSName(n); err != nil {
			return Permanent(ReasonInvalidName, "the CSR's %s %q is not a valid DNS name: %v", what, n, err)
		}
		if !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
		return nil
	}
	if cn != "" {
		if err := add(cn, "Common Name"); err != nil {
			return nil, err
		}
	}
	for _, n := range csr.DNSNames {
		if err := add(n, "DNS name"); err != nil {
			return nil, err
		}
	}
	if len(names) == 0 {
		return nil, Permanent(ReasonNoNames, "the CSR names no domain: set spec.dnsNames (or spec.commonName) on the Certificate")
	}
	return &CheckedCSR{CSR: csr, Names: names, CommonName: cn, MainDomain: names[0], Key: key}, nil
}

// CheckRequest checks a request against what CAS and the configured product
// can issue: the CSR (CheckCSR), isCA, key usages, and wildcard names on
// products that do not allow them.
func CheckRequest(req Request, productCode string) (*CheckedCSR, error) {
	if req.IsCA {
		return nil, Permanent(ReasonCANotSupported, "CAS issues TLS server certificates only; the request asks for a CA certificate (isCA)")
	}
	if bad := unsupportedUsages(req.Usages); len(bad) > 0 {
		return nil, Permanent(ReasonUnsupportedUsage, "CAS issues TLS server certificates only; unsupported usages %q", bad)
	}
	c, err := CheckCSR(req.CSRPEM)
	if err != nil {
		return nil, err
	}
	if c.HasWildcard() && !productAllowsWildcard(productCode) {
		return nil, Permanent(ReasonWildcardNotAllowed, "product %s does not issue wildcard names (%s); use a wildcard product such as geotrust-dv-w-starter", productCode, strings.Join(c.Names, ", "))
	}
	if len(c.Names) > 1 && singleNameProduct(productCode) {
		return nil, Permanent(ReasonTooManyNames, "product %s covers one name, the CSR has %d (%s): use one Certificate per name, or a product for several names", productCode, len(c.Names), strings.Join(c.Names, ", "))
	}
	return c, nil
}

// ReasonTooManyNames: a multi-name CSR for a single-name product; refused
// before ordering, as CAS would drop or refuse the extra names.
const ReasonTooManyNames = "TooManyNames"

// singleNameProduct: the catalogue names single-domain products "-1-"
// (digicert-free-1-free, geotrust-dv-1-starter, ...).
func singleNameProduct(code string) bool {
	return strings.Contains(strings.ToLower(code), "-1-")
}

// productAllowsWildcard: the free products cover one plain name.
func productAllowsWildcard(code string) bool {
	return !strings.Contains(strings.ToLower(code), "free")
}

// usages a TLS server (or client) leaf may carry, as cert-manager spells them.
var allowedUsages = map[string]bool{
	"signing": true, "digital signature": true, "key encipherment": true, "key agreement": true,
	"server auth": true, "client auth": true,
}

func unsupportedUsages(usages []string) []string {
	var bad []string
	for _, u := range usages {
		if !allowedUsages[strings.ToLower(strings.TrimSpace(u))] {
			bad = append(bad, u)
		}
	}
	return bad
}

func checkKey(pub any) (string, error) {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		bits := k.N.BitLen()
		desc := fmt.Sprintf("RSA %d", bits)
		if bits < minRSABits || bits > maxRSABits {
			return desc, Permanent(ReasonUnsupportedKey, "the CSR's key is RSA %d bits; CAS signs RSA %d to %d bits or ECDSA P-256/P-384", bits, minRSABits, maxRSABits)
		}
		return desc, nil
	case *ecdsa.PublicKey:
		name := "unknown curve"
		if k.Curve != nil {
			name = k.Curve.Params().Name
		}
		desc := "ECDSA " + name
		if k.Curve != elliptic.P256() && k.Curve != elliptic.P384() {
			return desc, Permanent(ReasonUnsupportedKey, "the CSR's key is ECDSA %s; CAS signs RSA %d to %d bits or ECDSA P-256/P-384", name, minRSABits, maxRSABits)
		}
		return desc, nil
	case ed25519.PublicKey:
		return "Ed25519", Permanent(ReasonUnsupportedKey, "the CSR's key is Ed25519; CAS signs RSA %d to %d bits or ECDSA P-256/P-384", minRSABits, maxRSABits)
	default:
		return "", Permanent(ReasonUnsupportedKey, "the CSR's key is a %T; CAS signs RSA %d to %d bits or ECDSA P-256/P-384", pub, minRSABits, maxRSABits)
	}
}

var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// csrRequestsCA reports whether the CSR asks for basic constraints CA:TRUE.
func csrRequestsCA(csr *x509.CertificateRequest) (bool, error) {
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidBasicConstraints) {
			continue
		}
		var bc struct {
			IsCA       bool `asn1:"optional"`
			MaxPathLen int  `asn1:"optional,default:-1"`
		}
		if _, err := asn1.Unmarshal(ext.Value, &bc); err != nil {
			return false, err
		}
		return bc.IsCA, nil
	}
	return false, nil
}

// checkDNSName accepts a lower-case public DNS name: LDH labels of 1-63
// characters, at least two labels, at most 253 characters, no trailing dot,
// a non-numeric top-level label, and at most a "*" as the whole leftmost
// label of a name with at least two more labels.
func checkDNSName(n string) error {
	if n == "" {
		return fmt.Errorf("empty")
	}
	if len(n) > 253 {
		return fmt.Errorf("longer than 253 characters")
	}
	if net.ParseIP(n) != nil {
		return fmt.Errorf("an IP address")
	}
	if strings.HasSuffix(n, ".") {
		return fmt.Errorf("ends with a dot")
	}
	labels := strings.Split(n, ".")
	if labels[0] == "*" {
		labels = labels[1:]
		if len(labels) < 2 {
			return fmt.Errorf("a wildcard needs a domain of at least two labels below it")
		}
	}
	if len(labels) < 2 {
		return fmt.Errorf("not a fully-qualified name")
	}
	for i, l := range labels {
		if err := checkLabel(l); err != nil {
			return err
		}
		if i == len(labels)-1 && strings.Trim(l, "0123456789") == "" {
			return fmt.Errorf("the top-level label %q is numeric", l)
		}
	}
	return nil
}

func checkLabel(l string) error {
	switch {
	case l == "":
		return fmt.Errorf("empty label")
	case len(l) > 63:
		return fmt.Errorf("label %q is longer than 63 characters", l)
	case strings.Contains(l, "*"):
		return fmt.Errorf("a wildcard may only be the whole leftmost label")
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Errorf("label %q starts or ends with a hyphen", l)
	}
	for _, r := range l {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("label %q has the character %q (use letters, digits, hyphens; punycode for IDNs)", l, r)
		}
	}
	return nil
}
