// Package testcsr builds certificate signing requests for tests: the one
// place every test package (controllers, signer, simulator, deploy) gets
// its CSRs from. It imports no Kubernetes package, so the signer's tests
// may use it.
package testcsr

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"testing"
)

// KeyType is the algorithm of a key Spec makes.
type KeyType string

// The key types Spec can make.
const (
	ECDSA   KeyType = "ECDSA"
	RSA     KeyType = "RSA"
	Ed25519 KeyType = "Ed25519"
)

// Spec describes a CSR. The zero value is a request with no names, signed
// by a new ECDSA P-256 key.
type Spec struct {
	// Key signs the request. When nil, a new key of KeyType and KeySize is
	// made (generating keys is slow: tests that make many CSRs share keys).
	Key crypto.Signer
	// KeyType is ECDSA when empty.
	KeyType KeyType
	// KeySize is the RSA modulus (2048 when 0) or the ECDSA curve size
	// (256, 384 or 521; 256 when 0).
	KeySize int

	CommonName string
	// Organization puts a subject without a Common Name in the request.
	Organization   []string
	DNSNames       []string
	IPAddresses    []net.IP
	URIs           []*url.URL
	EmailAddresses []string
	// IsCA asks for a CA certificate (a critical basic constraints
	// extension with cA true).
	IsCA bool
}

// oidBasicConstraints is id-ce-basicConstraints (RFC 5280, 4.2.1.9).
var oidBasicConstraints = asn1.ObjectIdentifier{2, 5, 29, 19}

// PEM builds the CSR s describes, PEM-encoded; a failure ends the test.
func PEM(t testing.TB, s Spec) []byte {
	t.Helper()
	csr, err := Build(s)
	if err != nil {
		t.Fatal(err)
	}
	return csr
}

// Build is PEM returning its error.
func Build(s Spec) ([]byte, error) {
	key := s.Key
	if key == nil {
		var err error
		if key, err = NewKey(s.KeyType, s.KeySize); err != nil {
			return nil, err
		}
	}
	tmpl := &x509.CertificateRequest{
		Subject:        pkix.Name{CommonName: s.CommonName, Organization: s.Organization},
		DNSNames:       s.DNSNames,
		IPAddresses:    s.IPAddresses,
		URIs:           s.URIs,
		EmailAddresses: s.EmailAddresses,
	}
	if s.IsCA {
		v, err := asn1.Marshal(struct {
			IsCA bool `asn1:"optional"`
		}{true})
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: oidBasicConstraints, Critical: true, Value: v})
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		return nil, fmt.Errorf("creating CSR: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}), nil
}

// NewKey makes a key of type typ (ECDSA when empty) and size (see
// Spec.KeySize; 0 is the default).
func NewKey(typ KeyType, size int) (crypto.Signer, error) {
	switch typ {
	case "", ECDSA:
		var curve elliptic.Curve
		switch size {
		case 0, 256:
			curve = elliptic.P256()
		case 384:
			curve = elliptic.P384()
		case 521:
			curve = elliptic.P521()
		default:
			return nil, fmt.Errorf("no ECDSA curve of %d bits", size)
		}
		return ecdsa.GenerateKey(curve, rand.Reader)
	case RSA:
		if size == 0 {
			size = 2048
		}
		return rsa.GenerateKey(rand.Reader, size)
	case Ed25519:
		if size != 0 {
			return nil, fmt.Errorf("an Ed25519 key has no size (got %d)", size)
		}
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	}
	return nil, fmt.Errorf("unknown key type %q", typ)
}
