package aliyunsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
)

// The checks a CA makes before it accepts an order: the CSR is well-formed and self-signed
// correctly, its key is one the CA signs, and the names are DNS names the product covers.

// maxCSR bounds the Csr parameter; real CSRs are a few kilobytes.
const maxCSR = 64 << 10

// parsedCSR is what an order takes from a CSR.
type parsedCSR struct {
	pub     crypto.PublicKey
	cn      string
	domains []string // CN first when present, then DNS SANs; lower case, deduplicated
}

// checkCSR parses and checks a PEM CSR. strictCN refuses one without a Common Name.
func checkCSR(csrPEM string, strictCN bool) (*parsedCSR, *apiError) {
	if len(csrPEM) > maxCSR {
		return nil, badRequest("InvalidParameter.Csr", "The CSR is larger than %d bytes.", maxCSR)
	}
	block, rest := pem.Decode([]byte(strings.TrimSpace(csrPEM)))
	if block == nil || (block.Type != "CERTIFICATE REQUEST" && block.Type != "NEW CERTIFICATE REQUEST") {
		return nil, badRequest("InvalidParameter.Csr", "The CSR is not a PEM \"CERTIFICATE REQUEST\" block.")
	}
	if len(strings.TrimSpace(string(rest))) != 0 {
		return nil, badRequest("InvalidParameter.Csr", "The CSR has data after its PEM block.")
	}
	csr, err := x509.ParseCertificateRequest(block.Bytes)
	if err != nil {
		return nil, badRequest("InvalidParameter.Csr", "The CSR cannot be parsed: %v", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, badRequest("InvalidParameter.Csr", "The CSR signature is invalid: %v", err)
	}
	if e := checkKey(csr.PublicKey); e != nil {
		return nil, e
	}
	if len(csr.IPAddresses) > 0 {
		return nil, badRequest("InvalidParameter.Csr", "The CSR has IP address SANs (%v); DV certificates cover DNS names only.", csr.IPAddresses)
	}
	if len(csr.EmailAddresses) > 0 || len(csr.URIs) > 0 {
		return nil, badRequest("InvalidParameter.Csr", "The CSR has e-mail or URI SANs; DV certificates cover DNS names only.")
	}
	cn := strings.ToLower(strings.TrimSpace(csr.Subject.CommonName))
	if cn == "" && strictCN {
		return nil, badRequest("InvalidParameter.CommonName",
			"The CSR has no Common Name: the certificate's domain is taken from the CSR's CN.")
	}
	if net.ParseIP(cn) != nil {
		return nil, badRequest("InvalidParameter.Csr", "The CSR's Common Name %q is an IP address.", cn)
	}
	names := append([]string{}, csr.DNSNames...)
	if cn != "" {
		names = append([]string{cn}, names...)
	}
	domains, e := normalizeDomains(names)
	if e != nil {
		return nil, e
	}
	if len(domains) == 0 {
		return nil, badRequest("InvalidParameter.Csr", "The CSR names no domain: neither a Common Name nor DNS SANs.")
	}
	return &parsedCSR{pub: csr.PublicKey, cn: cn, domains: domains}, nil
}

// checkKey accepts RSA of 2048 to 8192 bits and ECDSA P-256/P-384, the keys CAS offers.
func checkKey(pub crypto.PublicKey) *apiError {
	switch k := pub.(type) {
	case *rsa.PublicKey:
		if bits := k.N.BitLen(); bits < 2048 || bits > 8192 {
			return badRequest("InvalidParameter.KeyType", "RSA keys must have 2048 to 8192 bits, not %d.", bits)
		}
		return nil
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() || k.Curve == elliptic.P384() {
			return nil
		}
		return badRequest("InvalidParameter.KeyType", "ECDSA keys must use P-256 or P-384, not %s.", k.Curve.Params().Name)
	}
	return badRequest("InvalidParameter.KeyType", "The key type %T is not supported; use RSA (2048 bits or more) or ECDSA P-256/P-384.", pub)
}

// normalizeDomains lower-cases, checks and deduplicates names, keeping their order.
func normalizeDomains(names []string) ([]string, *apiError) {
	out := []string{}
	seen := map[string]bool{}
	for _, n := range names {
		n = strings.ToLower(strings.TrimSpace(n))
		if err := checkHostname(n, true); err != nil {
			return nil, badRequest("InvalidParameter.Domain", "The domain %q is not valid: %v.", n, err)
		}
		if !seen[n] {
			seen[n] = true
			out = append(out, n)
		}
	}
	return out, nil
}

// checkProductNames applies a product's limits to an order's names.
func checkProductNames(p product, maxNames int, domains []string) *apiError {
	if len(domains) > maxNames {
		return badRequest("InvalidParameter.DomainCount", "The product %s covers at most %d domain(s); the order names %d.", p.Code, maxNames, len(domains))
	}
	if !p.Wildcard {
		for _, d := range domains {
			if strings.HasPrefix(d, "*.") {
				return badRequest("InvalidParameter.Wildcard", "The product %s does not cover wildcard domains such as %q.", p.Code, d)
			}
		}
	}
	return nil
}

// checkHostname checks a lower-case DNS name: LDH labels of 1 to 63 characters, at least two
// labels, an alphabetic top-level label, at most 253 characters. With wildcard, a single "*"
// leftmost label is allowed.
func checkHostname(name string, wildcard bool) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 253 {
		return errors.New("longer than 253 characters")
	}
	labels := strings.Split(name, ".")
	if labels[0] == "*" && wildcard {
		labels = labels[1:]
	}
	if len(labels) < 2 {
		return errors.New("needs at least two labels")
	}
	for _, l := range labels {
		if l == "" || len(l) > 63 {
			return fmt.Errorf("label %q must have 1 to 63 characters", l)
		}
		if l[0] == '-' || l[len(l)-1] == '-' {
			return fmt.Errorf("label %q starts or ends with a hyphen", l)
		}
		for i := 0; i < len(l); i++ {
			c := l[i]
			if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
				return fmt.Errorf("label %q has the character %q", l, c)
			}
		}
	}
	tld := labels[len(labels)-1]
	if strings.Trim(tld, "0123456789") == "" {
		return errors.New("the top-level label is numeric")
	}
	return nil
}

// baseDomain is the name a validation proof is for: a wildcard is validated on its parent.
func baseDomain(name string) string { return strings.TrimPrefix(name, "*.") }
