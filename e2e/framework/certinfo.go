package framework

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// TLSSecret is what cert-manager wrote into a kubernetes.io/tls Secret,
// parsed and checked.
type TLSSecret struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	CA            *x509.Certificate
}

// VerifyTLSSecret checks a Secret as a TLS server would use it: the type and
// keys cert-manager writes, the private key matching the leaf, and the chain
// verifying to root (PEM). It returns the parsed chain.
func VerifyTLSSecret(sec *corev1.Secret, root []byte) (*TLSSecret, error) {
	if sec.Type != corev1.SecretTypeTLS {
		return nil, fmt.Errorf("secret %s type %q, want %q", sec.Name, sec.Type, corev1.SecretTypeTLS)
	}
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey, "ca.crt"} {
		if len(sec.Data[k]) == 0 {
			return nil, fmt.Errorf("secret %s has no %s", sec.Name, k)
		}
	}
	certs, err := ParseCertificates(sec.Data[corev1.TLSCertKey])
	if err != nil {
		return nil, fmt.Errorf("tls.crt: %w", err)
	}
	out := &TLSSecret{Leaf: certs[0], Intermediates: certs[1:]}
	key, err := parsePrivateKey(sec.Data[corev1.TLSPrivateKeyKey])
	if err != nil {
		return nil, fmt.Errorf("tls.key: %w", err)
	}
	if !reflect.DeepEqual(key.Public(), out.Leaf.PublicKey) {
		return nil, errors.New("tls.key does not match the certificate in tls.crt")
	}
	cas, err := ParseCertificates(sec.Data["ca.crt"])
	if err != nil {
		return nil, fmt.Errorf("ca.crt: %w", err)
	}
	out.CA = cas[0]
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(root) {
		return nil, errors.New("no root certificate to verify against")
	}
	inter := x509.NewCertPool()
	for _, c := range out.Intermediates {
		inter.AddCert(c)
	}
	if _, err := out.Leaf.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, DNSName: firstName(out.Leaf)}); err != nil {
		return nil, fmt.Errorf("chain does not verify against the CA root: %w", err)
	}
	return out, nil
}

// ParseCertificates parses every CERTIFICATE block of a PEM bundle.
func ParseCertificates(data []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in PEM data")
	}
	return out, nil
}

func parsePrivateKey(data []byte) (crypto.Signer, error) {
	b, _ := pem.Decode(data)
	if b == nil {
		return nil, errors.New("no PEM block")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if s, ok := k.(crypto.Signer); ok {
			return s, nil
		}
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("unsupported private key (%s)", b.Type)
}

func firstName(c *x509.Certificate) string {
	if len(c.DNSNames) > 0 {
		return c.DNSNames[0]
	}
	return c.Subject.CommonName
}

// Describe is a few human lines about a verified chain.
func (t *TLSSecret) Describe() string {
	var b strings.Builder
	fmt.Fprintf(&b, "  subject:   %s\n", t.Leaf.Subject)
	fmt.Fprintf(&b, "  DNS names: %s\n", strings.Join(t.Leaf.DNSNames, ", "))
	fmt.Fprintf(&b, "  issuer:    %s\n", t.Leaf.Issuer)
	fmt.Fprintf(&b, "  serial:    %s\n", t.Leaf.SerialNumber.Text(16))
	fmt.Fprintf(&b, "  valid:     %s → %s\n", t.Leaf.NotBefore.UTC().Format("2006-01-02 15:04 MST"), t.Leaf.NotAfter.UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "  chain:     leaf + %d intermediate(s), verified against root %q\n", len(t.Intermediates), t.CA.Subject.CommonName)
	return b.String()
}
