package testcsr_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"net"
	"net/url"
	"slices"
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
)

func parse(t *testing.T, csrPEM []byte) *x509.CertificateRequest {
	t.Helper()
	b, _ := pem.Decode(csrPEM)
	if b == nil || b.Type != "CERTIFICATE REQUEST" {
		t.Fatalf("not a PEM CSR: %q", csrPEM)
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatal(err)
	}
	return csr
}

func TestEveryFieldReachesTheRequest(t *testing.T) {
	u, _ := url.Parse("spiffe://td/x")
	csr := parse(t, testcsr.PEM(t, testcsr.Spec{
		CommonName:     "www.example.com",
		Organization:   []string{"Example"},
		DNSNames:       []string{"www.example.com", "example.com"},
		IPAddresses:    []net.IP{net.ParseIP("10.0.0.1")},
		URIs:           []*url.URL{u},
		EmailAddresses: []string{"a@example.com"},
		IsCA:           true,
	}))
	if csr.Subject.CommonName != "www.example.com" || !slices.Equal(csr.Subject.Organization, []string{"Example"}) {
		t.Errorf("subject %v", csr.Subject)
	}
	if !slices.Equal(csr.DNSNames, []string{"www.example.com", "example.com"}) {
		t.Errorf("DNS names %v", csr.DNSNames)
	}
	if len(csr.IPAddresses) != 1 || !csr.IPAddresses[0].Equal(net.ParseIP("10.0.0.1")) {
		t.Errorf("IPs %v", csr.IPAddresses)
	}
	if len(csr.URIs) != 1 || csr.URIs[0].String() != "spiffe://td/x" {
		t.Errorf("URIs %v", csr.URIs)
	}
	if !slices.Equal(csr.EmailAddresses, []string{"a@example.com"}) {
		t.Errorf("emails %v", csr.EmailAddresses)
	}
	ca := false
	for _, e := range csr.Extensions {
		if e.Id.String() == "2.5.29.19" && e.Critical {
			ca = true
		}
	}
	if !ca {
		t.Error("no critical basic constraints extension")
	}
	if _, ok := csr.PublicKey.(*ecdsa.PublicKey); !ok {
		t.Errorf("default key %T, want ECDSA", csr.PublicKey)
	}
}

func TestKeyTypesAndSizes(t *testing.T) {
	for _, tc := range []struct {
		typ  testcsr.KeyType
		size int
		want func(any) bool
	}{
		{testcsr.ECDSA, 384, func(k any) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve.Params().BitSize == 384 }},
		{testcsr.RSA, 0, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 2048 }},
		{testcsr.RSA, 1024, func(k any) bool { r, ok := k.(*rsa.PublicKey); return ok && r.N.BitLen() == 1024 }},
		{testcsr.Ed25519, 0, func(k any) bool { _, ok := k.(ed25519.PublicKey); return ok }},
	} {
		csr := parse(t, testcsr.PEM(t, testcsr.Spec{KeyType: tc.typ, KeySize: tc.size, CommonName: "k.example.com"}))
		if !tc.want(csr.PublicKey) {
			t.Errorf("%s %d: key %T", tc.typ, tc.size, csr.PublicKey)
		}
	}
	if _, err := testcsr.NewKey(testcsr.ECDSA, 255); err == nil {
		t.Error("a 255-bit ECDSA key was made")
	}
}

func TestGivenKeySigns(t *testing.T) {
	key, err := testcsr.NewKey(testcsr.RSA, 2048)
	if err != nil {
		t.Fatal(err)
	}
	csr := parse(t, testcsr.PEM(t, testcsr.Spec{Key: key, DNSNames: []string{"a.example.com"}}))
	if !key.Public().(*rsa.PublicKey).Equal(csr.PublicKey) {
		t.Error("the CSR does not carry the given key")
	}
}
