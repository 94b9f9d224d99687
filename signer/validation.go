package signer

import (
	"fmt"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The domain-ownership proofs the CA waits for, as each order API reports
// them, and name comparisons shared by the flows.

// validationFor builds the proof the CA waits for.
func validationFor(cs *aliyun.CertificateState, csr *CheckedCSR) *Validation {
	domain := strings.ToLower(strings.TrimSuffix(cs.Domain, "."))
	if domain == "" {
		domain = csr.MainDomain
	}
	base := strings.TrimPrefix(domain, "*.")
	method := strings.ToUpper(cs.ValidateType)
	if method == "" {
		if cs.URI != "" || cs.Content != "" {
			method = "FILE"
		} else {
			method = "DNS"
		}
	}
	v := &Validation{Domain: domain, Method: method}
	if method == "FILE" {
		uri := cs.URI
		if !strings.HasPrefix(uri, "/") {
			uri = "/" + uri
		}
		v.FileURL = "http://" + base + uri
		v.FileContent = cs.Content
		return v
	}
	v.RecordName = recordName(cs.RecordDomain, base)
	v.RecordType = strings.ToUpper(cs.RecordType)
	if v.RecordType == "" {
		v.RecordType = "TXT"
	}
	v.RecordValue = cs.RecordValue
	return v
}

// recordName is the full name of a validation record. CAS gives the host
// record (主机记录) relative to the domain ("_dnsauth"), relative to the
// zone ("_dnsauth.www" for www.example.com in example.com), or in full;
// the record always lives at _dnsauth.<domain>, so a relative form whose
// tail is the head of the domain is not doubled.
func recordName(recordDomain, base string) string {
	rd := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(recordDomain), "."))
	switch {
	case rd == "":
		return base
	case rd == base || strings.HasSuffix(rd, "."+base):
		return rd
	}
	label, rest, relative := strings.Cut(rd, ".")
	if relative && strings.HasPrefix(base, rest+".") {
		return label + "." + base
	}
	return rd + "." + base
}

// Instruction tells a person what to create, e.g.
// "create DNS TXT record _dnsauth.www.example.com = <value>".
func (v *Validation) Instruction() string {
	if v.Method == "FILE" {
		return fmt.Sprintf("serve %s with content %s", v.FileURL, v.FileContent)
	}
	return fmt.Sprintf("create DNS %s record %s = %s", v.RecordType, v.RecordName, v.RecordValue)
}

func nameSet(names []string) map[string]bool {
	m := make(map[string]bool, len(names))
	for _, n := range names {
		m[strings.ToLower(n)] = true
	}
	return m
}

func sameNames(got []string, want map[string]bool) bool {
	g := nameSet(got)
	if len(g) != len(want) {
		return false
	}
	for n := range g {
		if !want[n] {
			return false
		}
	}
	return true
}

// dvValidation is the proof a CAS 2018-07-13 DV order waits for.
func dvValidation(r *aliyun.DVOrderResult, csr *CheckedCSR) *Validation {
	method := strings.ToUpper(r.CheckType)
	if method == "" {
		method = "DNS"
	}
	name := strings.ToLower(strings.TrimSuffix(strings.TrimSpace(r.CheckName), "."))
	v := &Validation{Domain: csr.MainDomain, Method: method}
	if method == "FILE" {
		url := name
		if !strings.Contains(url, "://") {
			url = "http://" + url
		}
		v.FileURL = url
		v.FileContent = r.CheckValue
		return v
	}
	// CheckName is the full record name; be lenient with a bare host.
	v.RecordName = recordName(name, strings.TrimPrefix(csr.MainDomain, "*."))
	v.RecordType = "TXT"
	v.RecordValue = r.CheckValue
	return v
}
