package signer

import (
	"context"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
)

// Subject fields other than the CN are accepted, and the Sign that places
// the order warns, once, that CAS will not put them in the certificate.
func TestSubjectFieldsWarning(t *testing.T) {
	key := ecKey(t, elliptic.P256())
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "www.example.com", Organization: []string{"Example Ltd"}, Country: []string{"CN"}},
		DNSNames: []string{"www.example.com"},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	r := newReplay(t, map[string][]reply{
		"CreateCertificateWithCsrRequest": {ok(jsonBody(map[string]any{"OrderId": 77}))},
		"DescribeCertificateState":        {ok(jsonBody(map[string]any{"Type": "process"}))},
	})
	s, _ := newTestSigner(t, r.URL, nil)
	store := &recStore{}
	req := Request{CSRPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})}
	out, err := s.Sign(context.Background(), req, store)
	if err != nil || len(out.Warnings) != 1 || !strings.Contains(out.Warnings[0], "O=Example Ltd") || !strings.Contains(out.Warnings[0], "C=CN") {
		t.Fatalf("%+v %v", out, err)
	}
	req.State = store.last()
	if out, err := s.Sign(context.Background(), req, store); err != nil || len(out.Warnings) != 0 {
		t.Fatalf("warned again: %+v %v", out, err)
	}
}
