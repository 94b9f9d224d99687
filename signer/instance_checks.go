package signer

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"sort"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// What the subscription-instance flow checks before it writes anything onto an instance, and
// how it reads an instance: key algorithm, domain capacity, the binding of an instance to a
// Certificate, and the validation records of DomainValidationList.

// Reasons of the subscription-instance flow.
const (
	// ReasonInstanceKeyUnsupported: the CSR's key has no KeyAlgorithm (RSA 2048/3072/4096,
	// ECDSA P-256).
	ReasonInstanceKeyUnsupported = "InstanceKeyUnsupported"
	// ReasonInstanceCapacity: no usable instance holds the CSR's names (FullDomainCount,
	// WildcardDomainCount).
	ReasonInstanceCapacity = "InstanceCapacity"
	// ReasonInstanceNotFound: an instance of spec.instance.instanceIDs does not exist.
	ReasonInstanceNotFound = "InstanceNotFound"
	// ReasonInstanceUnusable: an instance of spec.instance.instanceIDs is expired, refunded
	// or closed.
	ReasonInstanceUnusable = "InstanceUnusable"
	// ReasonInvalidContact: the account has no usable contact and spec.contact cannot be
	// made one.
	ReasonInvalidContact = "InvalidContact"
	// ReasonInstanceBusy: the Certificate's instance has an application in flight that is
	// not this request's.
	ReasonInstanceBusy = "InstanceBusy"
	// ReasonSubmitting: the application is being submitted to the CA (GetTaskAttribute
	// processing, or no validation records yet).
	ReasonSubmitting = "Submitting"
	// ReasonApplicationFailed: the CA refused the submission (GetTaskAttribute failed).
	ReasonApplicationFailed = "ApplicationFailed"
	// ReasonApplicationEnded: the application left pending without a new certificate
	// (withdrawn, or refused by the CA).
	ReasonApplicationEnded = "ApplicationEnded"
	// ReasonNameMismatch: the issued certificate does not cover the CSR's names.
	ReasonNameMismatch = "NameMismatch"
)

// bindingTagKey is the instance tag naming the Certificate an instance is bound to. (Tag keys
// may not start with "aliyun" or "acs:".)
const bindingTagKey = "cert-manager-certificate"

// instanceKeyAlgorithm is UpdateInstance's KeyAlgorithm for the CSR's key.
func instanceKeyAlgorithm(csr *CheckedCSR) (string, error) {
	switch k := csr.CSR.PublicKey.(type) {
	case *rsa.PublicKey:
		switch bits := k.N.BitLen(); bits {
		case 2048, 3072, 4096:
			return fmt.Sprintf("RSA_%d", bits), nil
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ECC_256", nil
		}
	}
	return "", Permanent(ReasonInstanceKeyUnsupported,
		"CAS subscription instances take RSA 2048, 3072 or 4096 and ECDSA P-256 keys; the request's key is %s: set the Certificate's spec.privateKey accordingly; nothing was submitted", csr.Key)
}

// fits reports whether an instance's domain capacity holds the names: plain names count
// against FullDomainCount, wildcards against WildcardDomainCount (the split is unverified; an
// instance that reports neither count is assumed to hold one plain name).
func fits(inst aliyun.Instance, names []string) bool {
	full, wild := int(inst.FullDomainCount), int(inst.WildcardDomainCount)
	if full == 0 && wild == 0 {
		full = 1
	}
	w := 0
	for _, n := range names {
		if strings.HasPrefix(n, "*.") {
			w++
		}
	}
	return w <= wild && len(names)-w <= full
}

// bindingName is the CertificateName written on an instance bound to a Certificate: unique
// per Certificate, short enough for the name field, and found by ListInstances' Keyword.
func bindingName(owner string) string {
	sum := sha256.Sum256([]byte(owner))
	return "cert-manager-" + hex.EncodeToString(sum[:10])
}

// bindingTagValue is the tag value naming the Certificate (values hold at most 128
// characters; longer names are replaced by their binding name).
func bindingTagValue(owner string) string {
	if len(owner) <= 128 && !strings.Contains(owner, "://") {
		return owner
	}
	return bindingName(owner)
}

// csrDigest identifies a CSR across its PEM spellings: the SHA-256 of its DER.
func csrDigest(csrPEM string) string {
	b, _ := pem.Decode([]byte(strings.ReplaceAll(strings.TrimSpace(csrPEM), "\r\n", "\n")))
	if b == nil {
		return ""
	}
	sum := sha256.Sum256(b.Bytes)
	return hex.EncodeToString(sum[:])
}

// usableStatus reports whether an instance's subscription allows an application now.
func usableStatus(status string) bool {
	switch status {
	case aliyun.InstanceInactive, aliyun.InstanceNormal, aliyun.InstanceWillExpire:
		return true
	}
	return false
}

// deadStatus reports whether an instance can never take an application again.
func deadStatus(status string) bool {
	switch status {
	case aliyun.InstanceExpired, aliyun.InstanceRefund, aliyun.InstanceClosed:
		return true
	}
	return false
}

// statusCounts says how many instances are in each state, e.g. "3 pending, 1 expired".
func statusCounts(insts []aliyun.Instance) string {
	counts := map[string]int{}
	for _, i := range insts {
		counts[i.Status]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		name := k
		if name == "" {
			name = "unknown"
		}
		parts = append(parts, fmt.Sprintf("%d %s", counts[k], name))
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, ", ")
}

// instanceValidations turns DomainValidationList into the proofs to publish, one per distinct
// record. ValidationKey is relative to RootDomain, "@" being the apex; an HTTP (or FILE) entry
// carries the path in ValidationKey and the content in ValidationValue (unverified mapping; a
// full URL in ValidationKey is taken as it is).
func instanceValidations(list []aliyun.DomainValidation) []*Validation {
	var out []*Validation
	seen := map[string]bool{}
	for _, e := range list {
		domain := normalizeName(e.Domain)
		base := strings.TrimPrefix(domain, "*.")
		v := &Validation{Domain: domain}
		switch typ := strings.ToUpper(strings.TrimSpace(e.ValidationType)); typ {
		case "HTTP", "FILE":
			v.Method = "FILE"
			key := strings.TrimSpace(e.ValidationKey)
			switch {
			case strings.Contains(key, "://"):
				v.FileURL = key
			case strings.HasPrefix(key, "/"):
				v.FileURL = "http://" + base + key
			default:
				v.FileURL = "http://" + base + "/" + key
			}
			v.FileContent = e.ValidationValue
		case "CNAME":
			v.Method, v.RecordType = "DNS", "CNAME"
			key, value := e.CnameKey, e.Cname
			if key == "" {
				key, value = e.ValidationKey, e.ValidationValue
			}
			v.RecordName, v.RecordValue = relativeName(key, e.RootDomain, base), value
		default:
			v.Method, v.RecordType = "DNS", "TXT"
			v.RecordName, v.RecordValue = relativeName(e.ValidationKey, e.RootDomain, base), e.ValidationValue
		}
		id := v.Method + "|" + v.RecordName + "|" + v.RecordValue + "|" + v.FileURL
		if !seen[id] {
			seen[id] = true
			out = append(out, v)
		}
	}
	return out
}

// relativeName is the full name of a record key relative to root ("@" = root); without a
// root, the domain's base stands in.
func relativeName(key, root, base string) string {
	key, root = normalizeName(key), normalizeName(root)
	if root == "" {
		root = base
	}
	switch {
	case key == "" || key == "@":
		return root
	case key == root || strings.HasSuffix(key, "."+root):
		return key // already a full name
	}
	return key + "." + root
}
