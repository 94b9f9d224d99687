package signer

import (
	"crypto/x509"
	"strings"
)

// checkLeafNames makes sure leaf covers every name of the CSR (else
// ReasonNameMismatch: handing the certificate to cert-manager would only make
// it order again, and again): each as a
// DNS name of the certificate (or its Common Name when it has none),
// compared without case; order names the order for people.
func checkLeafNames(leaf *x509.Certificate, csr *CheckedCSR, order string) error {
	have := map[string]bool{}
	for _, n := range leaf.DNSNames {
		have[strings.ToLower(strings.TrimSuffix(n, "."))] = true
	}
	if len(leaf.DNSNames) == 0 && leaf.Subject.CommonName != "" {
		have[strings.ToLower(leaf.Subject.CommonName)] = true
	}
	var missing []string
	for _, n := range csr.Names {
		if !have[strings.ToLower(n)] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return Permanent(ReasonNameMismatch, "the certificate of %s does not cover %s (it names %s)", order, strings.Join(missing, ", "), strings.Join(leaf.DNSNames, ", "))
	}
	return nil
}
