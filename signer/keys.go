package signer

import (
	"crypto"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
)

// Private keys and public key comparisons, including the decisions of key
// adoption (orderAPI DVOrder) that the controller acts on.

// AdoptedInstance is the instance whose server-generated key a request was
// built from: recordedInstance (recorded next to keyPEM in the request's
// next-private-key Secret) when keyPEM is the key of csrPEM, else "".
func AdoptedInstance(recordedInstance string, keyPEM, csrPEM []byte) string {
	if recordedInstance == "" {
		return ""
	}
	key, err := parseServerKey(string(keyPEM))
	if err != nil {
		return ""
	}
	b, _ := pem.Decode(csrPEM)
	if b == nil {
		return ""
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil || !samePublicKey(key.Public(), csr.PublicKey) {
		return ""
	}
	return recordedInstance
}

// HeldBy reports whether a Secret with keyPEM and recordedInstance already
// holds this adopted key (nothing to write).
func (a *AdoptKey) HeldBy(keyPEM []byte, recordedInstance string) bool {
	if a == nil || recordedInstance != a.InstanceID {
		return false
	}
	have, err := parseServerKey(string(keyPEM))
	if err != nil {
		return false
	}
	want, err := parseServerKey(string(a.KeyPEM))
	return err == nil && samePublicKey(have.Public(), want.Public())
}

func samePublicKey(a, b crypto.PublicKey) bool {
	type equaler interface{ Equal(x crypto.PublicKey) bool }
	ea, ok := a.(equaler)
	return ok && ea.Equal(b)
}

func csrPEM(csr *x509.CertificateRequest) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr.Raw})
}

// parseServerKey reads a PKCS#1, PKCS#8 or EC private key.
func parseServerKey(keyPEM string) (crypto.Signer, error) {
	b, _ := pem.Decode([]byte(strings.ReplaceAll(keyPEM, "\r\n", "\n")))
	if b == nil {
		return nil, errors.New("no PEM private key")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		if sg, ok := k.(crypto.Signer); ok {
			return sg, nil
		}
		return nil, fmt.Errorf("unsupported private key type %T", k)
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, fmt.Errorf("unparsable %s block", b.Type)
}
