package signer

import (
	"bytes"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"
)

// Reasons of the local checks of a certificate before an upload: nothing is
// uploaded when one of them fails.
const (
	ReasonInvalidCertificate = "InvalidCertificate"
	ReasonInvalidKey         = "InvalidKey"
	ReasonCertificateExpired = "CertificateExpired"
	ReasonNamePrefixTooLong  = "NamePrefixTooLong"
)

// Limits of the name of an upload: CAS takes at most 63 characters (the
// current UploadUserCertificate reference; older copies say 64 or 128),
// and the name is the prefix, "-" and fingerprintChars of the fingerprint.
const (
	MaxUploadName    = 63
	fingerprintChars = 12
	MaxNamePrefix    = MaxUploadName - 1 - fingerprintChars
)

// Certificate is a checked certificate and key, ready to upload. KeyPEM is
// a secret: never log it or put it in a message.
type Certificate struct {
	Leaf *x509.Certificate
	// ChainPEM is the leaf followed by the intermediates (no root), PEM.
	ChainPEM []byte
	KeyPEM   []byte
	// Fingerprint is the SHA-256 of the leaf (DER), lower-case hex.
	Fingerprint string
}

// CheckCertificate reads a tls.crt (leaf and intermediates, in any order;
// a root is dropped) and tls.key pair, and checks that the key belongs to
// the leaf and the leaf has not expired at now. Failures are
// *PermanentError with one of the Reason* above; their messages never
// carry key material.
func CheckCertificate(certPEM, keyPEM []byte, now time.Time) (*Certificate, error) {
	chain, err := ParseChain(certPEM)
	if err != nil {
		return nil, Permanent(ReasonInvalidCertificate, "tls.crt: %v", err)
	}
	key, err := parsePrivateKey(keyPEM)
	if err != nil {
		return nil, Permanent(ReasonInvalidKey, "tls.key: %v", err)
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	pub, ok := key.Public().(equaler)
	if !ok || !pub.Equal(chain.Leaf.PublicKey) {
		return nil, Permanent(ReasonKeyMismatch, "tls.key is not the key of the certificate in tls.crt")
	}
	if !now.Before(chain.Leaf.NotAfter) {
		return nil, Permanent(ReasonCertificateExpired, "the certificate in tls.crt expired at %s", chain.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	sum := sha256.Sum256(chain.Leaf.Raw)
	return &Certificate{
		Leaf:        chain.Leaf,
		ChainPEM:    chain.ChainPEM(),
		KeyPEM:      append(bytes.TrimSpace(bytes.ReplaceAll(keyPEM, []byte("\r\n"), []byte("\n"))), '\n'),
		Fingerprint: hex.EncodeToString(sum[:]),
	}, nil
}

// parsePrivateKey reads one PEM private key (PKCS#8, PKCS#1 or SEC 1).
// Its errors say what is wrong, never what the key holds.
func parsePrivateKey(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(bytes.TrimSpace(data))
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	var k any
	var err error
	switch block.Type {
	case "PRIVATE KEY":
		k, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "RSA PRIVATE KEY":
		k, err = x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		k, err = x509.ParseECPrivateKey(block.Bytes)
	default:
		return nil, errors.New("unsupported PEM block (want an unencrypted PKCS#8, PKCS#1 or SEC 1 key)")
	}
	if err != nil {
		return nil, errors.New("the key does not parse")
	}
	s, ok := k.(crypto.Signer)
	if !ok {
		return nil, errors.New("unsupported key type")
	}
	return s, nil
}

// UploadName is the CAS name of an upload: prefix, "-" and the start of the
// fingerprint, so that each certificate has its own, stable name.
func UploadName(prefix, fingerprint string) (string, error) {
	if prefix == "" {
		return "", Permanent(ReasonNamePrefixTooLong, "the name prefix is empty")
	}
	if len(prefix) > MaxNamePrefix {
		return "", Permanent(ReasonNamePrefixTooLong, "the name prefix %q has %d characters; at most %d fit in a CAS name of %d with the fingerprint",
			prefix, len(prefix), MaxNamePrefix, MaxUploadName)
	}
	if len(fingerprint) < fingerprintChars {
		return "", fmt.Errorf("fingerprint %q is too short", fingerprint)
	}
	return prefix + "-" + fingerprint[:fingerprintChars], nil
}
