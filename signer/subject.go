package signer

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
	"strings"
)

// ReasonSubjectNotCarried is the warning that a CSR asks for subject fields
// CAS DV certificates do not carry.
const ReasonSubjectNotCarried = "SubjectNotCarried"

var oidCommonName = asn1.ObjectIdentifier{2, 5, 4, 3}

// subjectShortNames names the usual subject attributes for people.
var subjectShortNames = map[string]string{
	"2.5.4.6": "C", "2.5.4.7": "L", "2.5.4.8": "ST", "2.5.4.9": "STREET", "2.5.4.10": "O",
	"2.5.4.11": "OU", "2.5.4.17": "POSTALCODE", "2.5.4.5": "SERIALNUMBER",
}

// extraSubject lists the CSR's subject attributes other than the Common
// Name ("O=Example Ltd", ...): CAS DV certificates carry only the domain
// names, so they are accepted but never in the certificate.
func extraSubject(csr *x509.CertificateRequest) []string {
	var out []string
	for _, atv := range csr.Subject.Names {
		if atv.Type.Equal(oidCommonName) {
			continue
		}
		name := subjectShortNames[atv.Type.String()]
		if name == "" {
			name = atv.Type.String()
		}
		out = append(out, fmt.Sprintf("%s=%v", name, atv.Value))
	}
	return out
}

// subjectWarning is the warning for a CSR with extra subject fields, ""
// when there are none.
func subjectWarning(csr *CheckedCSR) string {
	extra := extraSubject(csr.CSR)
	if len(extra) == 0 {
		return ""
	}
	return "CAS DV certificates carry only the domain names: the subject fields " + strings.Join(extra, ", ") + " of the request are not in the certificate"
}
