package signer

import (
	"crypto/x509"
	"encoding/asn1"
	"fmt"
)

var oidSubjectAltName = asn1.ObjectIdentifier{2, 5, 29, 17}

// GeneralName kinds (RFC 5280 4.2.1.6) that Go's CSR parser skips and CAS
// would drop silently: they are refused like IP, URI and e-mail SANs.
var skippedGeneralNames = map[int]string{
	0: "otherName",
	3: "x400Address",
	4: "directoryName",
	5: "ediPartyName",
	8: "registeredID",
}

// unsupportedGeneralNames lists the SAN kinds of csr that x509 does not
// parse into DNSNames, IPAddresses, URIs or EmailAddresses.
func unsupportedGeneralNames(csr *x509.CertificateRequest) ([]string, error) {
	var kinds []string
	for _, ext := range csr.Extensions {
		if !ext.Id.Equal(oidSubjectAltName) {
			continue
		}
		var seq asn1.RawValue
		rest, err := asn1.Unmarshal(ext.Value, &seq)
		if err != nil || len(rest) > 0 || seq.Class != asn1.ClassUniversal || seq.Tag != asn1.TagSequence {
			return nil, fmt.Errorf("the subject alternative name extension is malformed")
		}
		for data := seq.Bytes; len(data) > 0; {
			var gn asn1.RawValue
			if data, err = asn1.Unmarshal(data, &gn); err != nil {
				return nil, fmt.Errorf("the subject alternative name extension is malformed: %v", err)
			}
			if kind, ok := skippedGeneralNames[gn.Tag]; ok && gn.Class == asn1.ClassContextSpecific {
				kinds = append(kinds, kind)
			}
		}
	}
	return kinds, nil
}
