package signer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
)

var (
	keyMu    sync.Mutex
	rsaCache = map[int]*rsa.PrivateKey{}
)

// rsaKey returns a cached RSA key of the given size (generation is slow).
func rsaKey(t testing.TB, bits int) *rsa.PrivateKey {
	t.Helper()
	keyMu.Lock()
	defer keyMu.Unlock()
	if k, ok := rsaCache[bits]; ok {
		return k
	}
	k, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		t.Fatal(err)
	}
	rsaCache[bits] = k
	return k
}

func ecKey(t testing.TB, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func simpleCSR(t testing.TB, key crypto.Signer, cn string, dns ...string) []byte {
	t.Helper()
	return testcsr.PEM(t, testcsr.Spec{Key: key, CommonName: cn, DNSNames: dns})
}

// testCA is a root and an intermediate that issue leaves.
type testCA struct {
	root, inter       *x509.Certificate
	rootKey, interKey *ecdsa.PrivateKey
}

var serial int64 = 100

func nextSerial() *big.Int {
	keyMu.Lock()
	defer keyMu.Unlock()
	serial++
	return big.NewInt(serial)
}

func newTestCA(t testing.TB) *testCA {
	t.Helper()
	ca := &testCA{rootKey: ecKey(t, elliptic.P256()), interKey: ecKey(t, elliptic.P256())}
	now := time.Now()
	rootTmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Test Root"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(10 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ca.root = mustCert(t, rootTmpl, rootTmpl, ca.rootKey.Public(), ca.rootKey)
	interTmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: "Test Intermediate"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(5 * 365 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	ca.inter = mustCert(t, interTmpl, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

func mustCert(t testing.TB, tmpl, parent *x509.Certificate, pub crypto.PublicKey, key crypto.Signer) *x509.Certificate {
	t.Helper()
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

func (ca *testCA) issue(t testing.TB, pub crypto.PublicKey, validity time.Duration, names ...string) *x509.Certificate {
	t.Helper()
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: nextSerial(), Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
		NotBefore: now.Add(-time.Minute), NotAfter: now.Add(-time.Minute + validity),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, KeyUsage: x509.KeyUsageDigitalSignature,
	}
	return mustCert(t, tmpl, ca.inter, pub, ca.interKey)
}

func pemOf(certs ...*x509.Certificate) string {
	var s string
	for _, c := range certs {
		s += string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}))
	}
	return s
}
