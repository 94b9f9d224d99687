package signer_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// uploadCA is a root and an intermediate that issue leaves for upload tests.
type uploadCA struct {
	root, inter *x509.Certificate
	interKey    *ecdsa.PrivateKey
}

func p256(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func signCert(t *testing.T, tmpl, parent *x509.Certificate, pub, key any) *x509.Certificate {
	t.Helper()
	tmpl.SerialNumber = big.NewInt(time.Now().UnixNano())
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, key)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func newUploadCA(t *testing.T) *uploadCA {
	t.Helper()
	rootKey, interKey := p256(t), p256(t)
	now := time.Now()
	rt := &x509.Certificate{Subject: pkix.Name{CommonName: "Upload Test Root"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	root := signCert(t, rt, rt, rootKey.Public(), rootKey)
	it := &x509.Certificate{Subject: pkix.Name{CommonName: "Upload Test Intermediate"}, NotBefore: now.Add(-time.Hour), NotAfter: now.Add(48 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	return &uploadCA{root: root, inter: signCert(t, it, root, interKey.Public(), rootKey), interKey: interKey}
}

func (ca *uploadCA) issue(t *testing.T, pub any, validity time.Duration, name string) *x509.Certificate {
	t.Helper()
	now := time.Now()
	return signCert(t, &x509.Certificate{Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(validity), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}, ca.inter, pub, ca.interKey)
}

func certsPEM(certs ...*x509.Certificate) string {
	var b strings.Builder
	for _, c := range certs {
		b.Write(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return b.String()
}

func keyPEM(t *testing.T, k any) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

func TestCheckCertificate(t *testing.T) {
	ca := newUploadCA(t)
	key, other := p256(t), p256(t)
	leaf := ca.issue(t, key.Public(), 24*time.Hour, "sync.example.com")
	// tls.crt as cert-manager's CA issuer writes it: leaf, then the CA.
	crt := []byte(certsPEM(leaf, ca.inter, ca.root))
	c, err := signer.CheckCertificate(crt, keyPEM(t, key), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(string(c.ChainPEM), "BEGIN CERTIFICATE"); got != 2 {
		t.Errorf("chain has %d certificates, want leaf and intermediate (no root)", got)
	}
	if len(c.Fingerprint) != 64 || strings.ToLower(c.Fingerprint) != c.Fingerprint {
		t.Errorf("fingerprint %q is not lower-case SHA-256 hex", c.Fingerprint)
	}
	for _, tc := range []struct {
		name     string
		crt, key []byte
		now      time.Time
		reason   string
	}{
		{"key of another certificate", crt, keyPEM(t, other), time.Now(), signer.ReasonKeyMismatch},
		{"unparsable certificate", []byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"), keyPEM(t, key), time.Now(), signer.ReasonInvalidCertificate},
		{"unparsable key", crt, []byte("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"), time.Now(), signer.ReasonInvalidKey},
		{"expired", crt, keyPEM(t, key), leaf.NotAfter.Add(time.Second), signer.ReasonCertificateExpired},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := signer.CheckCertificate(tc.crt, tc.key, tc.now)
			pe, ok := signer.AsPermanent(err)
			if !ok || pe.Reason != tc.reason {
				t.Fatalf("error %v, want reason %s", err, tc.reason)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "AAAA") {
				t.Errorf("message carries key material: %v", err)
			}
		})
	}
}

func TestUploadName(t *testing.T) {
	fp := strings.Repeat("ab", 32)
	name, err := signer.UploadName(strings.Repeat("p", signer.MaxNamePrefix), fp)
	if err != nil || len(name) != signer.MaxUploadName {
		t.Fatalf("name %q (%d), err %v: want %d characters", name, len(name), err, signer.MaxUploadName)
	}
	_, err = signer.UploadName(strings.Repeat("p", signer.MaxNamePrefix+1), fp)
	if pe, ok := signer.AsPermanent(err); !ok || pe.Reason != signer.ReasonNamePrefixTooLong {
		t.Fatalf("too long prefix: %v", err)
	}
}

// TestUploaderAgainstSimulator: Ensure uploads once and finds the upload by
// name afterwards (a lost answer, a restart), for both APIs; Exists and
// Delete follow the account's list.
func TestUploaderAgainstSimulator(t *testing.T) {
	for _, api := range []string{signer.UploadAPI20200407, signer.UploadAPI20180713} {
		t.Run(api, func(t *testing.T) {
			sim, url := startSim(t, aliyunsim.Config{})
			up, err := signer.NewUploader(simConfig(url), api)
			if err != nil {
				t.Fatal(err)
			}
			if up.Region() != "cn-hangzhou" {
				t.Errorf("region %q", up.Region())
			}
			ca := newUploadCA(t)
			key := p256(t)
			c, err := signer.CheckCertificate([]byte(certsPEM(ca.issue(t, key.Public(), time.Hour, "up.example.com"), ca.inter)), keyPEM(t, key), time.Now())
			if err != nil {
				t.Fatal(err)
			}
			name, _ := signer.UploadName("ns-web-tls", c.Fingerprint)
			ctx := context.Background()
			first, err := up.Ensure(ctx, name, c, map[string]string{"team": "web"})
			if err != nil || first.Found {
				t.Fatalf("first Ensure: %+v, %v", first, err)
			}
			again, err := up.Ensure(ctx, name, c, nil)
			if err != nil || !again.Found || again.CertID != first.CertID {
				t.Fatalf("second Ensure: %+v, %v; want found %s", again, err, first.CertID)
			}
			if n := len(sim.State().UserCertificates); n != 1 {
				t.Fatalf("%d certificates in the account, want 1", n)
			}
			if ok, err := up.Exists(ctx, api, first.CertID); err != nil || !ok {
				t.Fatalf("Exists: %v, %v", ok, err)
			}
			if err := up.Delete(ctx, api, first.CertID); err != nil {
				t.Fatal(err)
			}
			if ok, err := up.Exists(ctx, api, first.CertID); err != nil || ok {
				t.Fatalf("Exists after delete: %v, %v", ok, err)
			}
			if err := up.Delete(ctx, api, first.CertID); err != nil {
				t.Fatalf("deleting a deleted certificate: %v", err)
			}
		})
	}
}
