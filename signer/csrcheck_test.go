package signer

import (
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/pem"
	"net"
	"net/url"
	"strings"
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
)

func TestCheckCSR(t *testing.T) {
	rsa2048 := rsaKey(t, 2048)
	rsa1024 := rsaKey(t, 1024)
	p256 := ecKey(t, elliptic.P256())
	p384 := ecKey(t, elliptic.P384())
	p521 := ecKey(t, elliptic.P521())
	_, ed, _ := ed25519.GenerateKey(rand.Reader)

	good := simpleCSR(t, rsa2048, "www.example.com", "www.example.com", "example.com")
	badSig := func() []byte {
		b, _ := pem.Decode(good)
		der := append([]byte(nil), b.Bytes...)
		der[len(der)-5] ^= 0xff // inside the signature
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}()
	caExt := testcsr.PEM(t, testcsr.Spec{Key: p256, CommonName: "ca.example.com", IsCA: true})

	for _, tc := range []struct {
		name   string
		csr    []byte
		reason string // "" means accepted
		msg    string // substring of the message
		names  []string
		key    string
	}{
		{name: "malformed PEM", csr: []byte("not a csr"), reason: ReasonBadCSR, msg: "not PEM"},
		{name: "wrong PEM type", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), reason: ReasonBadCSR},
		{name: "garbage DER", csr: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2, 3}}), reason: ReasonBadCSR},
		{name: "bad signature", csr: badSig, reason: ReasonBadCSR, msg: "signature"},
		{name: "RSA 1024", csr: simpleCSR(t, rsa1024, "www.example.com"), reason: ReasonUnsupportedKey, msg: "RSA 1024"},
		{name: "RSA 2048", csr: good, names: []string{"www.example.com", "example.com"}, key: "RSA 2048"},
		{name: "ECDSA P-256", csr: simpleCSR(t, p256, "", "a.example.com"), names: []string{"a.example.com"}, key: "ECDSA P-256"},
		{name: "ECDSA P-384", csr: simpleCSR(t, p384, "b.example.com"), names: []string{"b.example.com"}, key: "ECDSA P-384"},
		{name: "ECDSA P-521", csr: simpleCSR(t, p521, "c.example.com"), reason: ReasonUnsupportedKey, msg: "P-521"},
		{name: "Ed25519", csr: simpleCSR(t, ed, "d.example.com"), reason: ReasonUnsupportedKey, msg: "Ed25519"},
		{name: "IP SAN", csr: testcsr.PEM(t, testcsr.Spec{Key: p256, DNSNames: []string{"e.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}), reason: ReasonUnsupportedSAN, msg: "10.0.0.1"},
		{name: "URI SAN", csr: testcsr.PEM(t, testcsr.Spec{Key: p256, DNSNames: []string{"e.example.com"}, URIs: []*url.URL{{Scheme: "spiffe", Host: "td", Path: "/x"}}}), reason: ReasonUnsupportedSAN, msg: "spiffe://td/x"},
		{name: "email SAN", csr: testcsr.PEM(t, testcsr.Spec{Key: p256, DNSNames: []string{"e.example.com"}, EmailAddresses: []string{"a@example.com"}}), reason: ReasonUnsupportedSAN, msg: "a@example.com"},
		{name: "isCA", csr: caExt, reason: ReasonCANotSupported},
		{name: "no names", csr: testcsr.PEM(t, testcsr.Spec{Key: p256, Organization: []string{"x"}}), reason: ReasonNoNames, msg: "spec.dnsNames"},
		{name: "bad name", csr: simpleCSR(t, p256, "", "exa_mple.com"), reason: ReasonInvalidName, msg: "exa_mple.com"},
		{name: "single label", csr: simpleCSR(t, p256, "localhost"), reason: ReasonInvalidName},
		{name: "IP as CN", csr: simpleCSR(t, p256, "10.1.2.3"), reason: ReasonInvalidName},
		{name: "trailing dot", csr: simpleCSR(t, p256, "", "www.example.com."), reason: ReasonInvalidName},
		{name: "double wildcard", csr: simpleCSR(t, p256, "", "*.*.example.com"), reason: ReasonInvalidName},
		{name: "inner wildcard", csr: simpleCSR(t, p256, "", "www.*.example.com"), reason: ReasonInvalidName},
		{name: "partial wildcard", csr: simpleCSR(t, p256, "", "w*.example.com"), reason: ReasonInvalidName},
		{name: "wildcard on a TLD", csr: simpleCSR(t, p256, "", "*.com"), reason: ReasonInvalidName},
		{name: "numeric TLD", csr: simpleCSR(t, p256, "", "www.example.123"), reason: ReasonInvalidName},
		{name: "hyphen edge", csr: simpleCSR(t, p256, "", "-www.example.com"), reason: ReasonInvalidName},
		{name: "long label", csr: simpleCSR(t, p256, "", strings.Repeat("a", 64)+".example.com"), reason: ReasonInvalidName},
		{name: "wildcard ok, case folded, deduplicated", csr: simpleCSR(t, p256, "*.Example.com", "*.example.com", "example.com", "EXAMPLE.com"), names: []string{"*.example.com", "example.com"}, key: "ECDSA P-256"},
		{name: "punycode", csr: simpleCSR(t, p256, "", "xn--bcher-kva.example"), names: []string{"xn--bcher-kva.example"}, key: "ECDSA P-256"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := CheckCSR(tc.csr)
			if tc.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if strings.Join(c.Names, ",") != strings.Join(tc.names, ",") || c.MainDomain != tc.names[0] || c.Key != tc.key {
					t.Fatalf("got names %v main %s key %s", c.Names, c.MainDomain, c.Key)
				}
				return
			}
			p, ok := AsPermanent(err)
			if !ok {
				t.Fatalf("want a permanent %s error, got %v", tc.reason, err)
			}
			if p.Reason != tc.reason || !strings.Contains(p.Error(), tc.msg) {
				t.Fatalf("got %s: %v; want %s containing %q", p.Reason, p, tc.reason, tc.msg)
			}
		})
	}
}

func TestCheckRequest(t *testing.T) {
	k := ecKey(t, elliptic.P256())
	plain := simpleCSR(t, k, "www.example.com")
	wild := simpleCSR(t, k, "*.example.com")
	for _, tc := range []struct {
		name    string
		req     Request
		product string
		reason  string
	}{
		{"plain on free", Request{CSRPEM: plain, Usages: []string{"digital signature", "key encipherment", "server auth"}}, "digicert-free-1-free", ""},
		{"isCA", Request{CSRPEM: plain, IsCA: true}, "digicert-free-1-free", ReasonCANotSupported},
		{"cert sign usage", Request{CSRPEM: plain, Usages: []string{"digital signature", "cert sign"}}, "digicert-free-1-free", ReasonUnsupportedUsage},
		{"code signing", Request{CSRPEM: plain, Usages: []string{"code signing"}}, "geotrust-dv-1-starter", ReasonUnsupportedUsage},
		{"wildcard on free", Request{CSRPEM: wild}, "digicert-free-1-free", ReasonWildcardNotAllowed},
		{"wildcard on wildcard product", Request{CSRPEM: wild}, "geotrust-dv-w-starter", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := CheckRequest(tc.req, tc.product)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if p, ok := AsPermanent(err); !ok || p.Reason != tc.reason {
				t.Fatalf("got %v, want %s", err, tc.reason)
			}
		})
	}
}
