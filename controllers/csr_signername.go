package controllers

import (
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// signerRef is the issuer a CertificateSigningRequest's signer name names.
type signerRef struct {
	kind, namespace, name string
}

// parseSignerName reads "aliyuncasclusterissuers.aliyun-cas-issuer.io/<name>"
// or "aliyuncasissuers.aliyun-cas-issuer.io/<namespace>.<name>" (the first
// dot splits: namespaces have none; issuer names may). Any other name is
// not this issuer's.
func parseSignerName(signerName string) (signerRef, bool) {
	domain, path, ok := strings.Cut(signerName, "/")
	if !ok || path == "" || strings.Contains(path, "/") {
		return signerRef{}, false
	}
	switch domain {
	case v1alpha1.ClusterIssuerSignerDomain:
		return signerRef{kind: clusterIssuerKind, name: path}, true
	case v1alpha1.IssuerSignerDomain:
		ns, name, ok := strings.Cut(path, ".")
		if !ok || ns == "" || name == "" {
			return signerRef{}, false
		}
		return signerRef{kind: issuerKind, namespace: ns, name: name}, true
	}
	return signerRef{}, false
}

// key is the issuerKey of the issuer.
func (s signerRef) key() string { return issuerKey(s.kind, s.namespace, s.name) }

// String names the issuer for people: "AliyunCASIssuer team-a/prod".
func (s signerRef) String() string {
	if s.kind == clusterIssuerKind {
		return s.kind + " " + s.name
	}
	return s.kind + " " + s.namespace + "/" + s.name
}
