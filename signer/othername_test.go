package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"strings"
	"testing"
)

// A CSR with an otherName SAN (here a Microsoft UPN) next to a DNS name is
// refused before ordering: CAS would issue the DNS name and drop the rest.
func TestOtherNameSANRefused(t *testing.T) {
	must := func(b []byte, err error) []byte {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	utf8 := must(asn1.MarshalWithParams("ops@example.com", "utf8"))
	value := must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: utf8}))
	typeID := must(asn1.Marshal(asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 20, 2, 3}))
	other := must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: append(typeID, value...)}))
	dns := must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 2, Bytes: []byte("www.example.com")}))
	csrFor := func(names ...[]byte) []byte {
		var all []byte
		for _, n := range names {
			all = append(all, n...)
		}
		san := must(asn1.Marshal(asn1.RawValue{Class: asn1.ClassUniversal, Tag: asn1.TagSequence, IsCompound: true, Bytes: all}))
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der := must(x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
			Subject:         pkix.Name{CommonName: "www.example.com"},
			ExtraExtensions: []pkix.Extension{{Id: oidSubjectAltName, Value: san}},
		}, key))
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}
	_, err := CheckCSR(csrFor(dns, other))
	if p, ok := AsPermanent(err); !ok || p.Reason != ReasonUnsupportedSAN || !strings.Contains(p.Error(), "otherName") {
		t.Fatalf("got %v", err)
	}
	if _, err := CheckCSR(csrFor(dns)); err != nil {
		t.Fatalf("a DNS-only SAN was refused: %v", err)
	}
}
