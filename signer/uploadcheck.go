package signer

import (
	"bytes"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
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

// CheckedCertificate is a checked certificate and key, ready to upload. KeyPEM is
// a secret: never log it or put it in a message.
type CheckedCertificate struct {
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
func CheckCertificate(certPEM, keyPEM []byte, now time.Time) (*CheckedCertificate, error) {
	chain, err := ParseChain(certPEM)
	if err != nil {
		return nil, Permanent(ReasonInvalidCertificate, "tls.crt: %v", err)
	}
	key, err := parseServerKey(string(keyPEM))
	if err != nil {
		// Not the parser's words: they may quote the PEM block type.
		return nil, Permanent(ReasonInvalidKey, "tls.key is not an unencrypted PKCS#8, PKCS#1 or SEC 1 PEM key")
	}
	if !samePublicKey(key.Public(), chain.Leaf.PublicKey) {
		return nil, Permanent(ReasonKeyMismatch, "tls.key is not the key of the certificate in tls.crt")
	}
	if !now.Before(chain.Leaf.NotAfter) {
		return nil, Permanent(ReasonCertificateExpired, "the certificate in tls.crt expired at %s", chain.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	sum := sha256.Sum256(chain.Leaf.Raw)
	return &CheckedCertificate{
		Leaf:        chain.Leaf,
		ChainPEM:    chain.ChainPEM(),
		KeyPEM:      append(bytes.TrimSpace(bytes.ReplaceAll(keyPEM, []byte("\r\n"), []byte("\n"))), '\n'),
		Fingerprint: hex.EncodeToString(sum[:]),
	}, nil
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
