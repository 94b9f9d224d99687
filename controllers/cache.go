package controllers

import (
	"strings"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// SecretNamespacesEnv is the environment variable that lists the namespaces
// whose Secrets the controller may read (comma-separated; "*" or empty:
// every namespace). The deployment sets it to match its RBAC.
const SecretNamespacesEnv = "ALIYUN_CAS_ISSUER_SECRET_NAMESPACES"

// CacheOptions restricts the manager's Secret cache (the issuer controllers
// watch Secret metadata) to secretNamespaces, a comma-separated list as in
// SecretNamespacesEnv; the cluster resource namespace is always included.
// "*" or an empty list caches Secrets of every namespace.
//
// The caches hold every CertificateRequest and every Secret's metadata of
// the cluster (cert-manager makes one Secret per Certificate, two while it
// renews), so they keep only what the controllers read from them: no
// managed fields anywhere; of a CertificateRequest, its metadata, its
// issuerRef and its conditions (a request is read from the API server
// before anything is done with it); of a Secret, its identity and version.
func CacheOptions(secretNamespaces, clusterResourceNamespace string) cache.Options {
	secrets := cache.ByObject{Transform: slimSecretMetadata}
	opts := cache.Options{
		DefaultTransform: cache.TransformStripManagedFields(),
		ByObject: map[client.Object]cache.ByObject{
			&cmapi.CertificateRequest{}: {Transform: slimRequest},
		},
	}
	secretNamespaces = strings.TrimSpace(secretNamespaces)
	if secretNamespaces != "" && secretNamespaces != "*" {
		nss := map[string]cache.Config{}
		for ns := range strings.SplitSeq(secretNamespaces, ",") {
			if ns = strings.TrimSpace(ns); ns == "*" {
				nss = nil
				break
			} else if ns != "" {
				nss[ns] = cache.Config{}
			}
		}
		if nss != nil && clusterResourceNamespace != "" {
			nss[clusterResourceNamespace] = cache.Config{}
		}
		secrets.Namespaces = nss
	}
	// Secrets are watched as metadata only: the ByObject entry for the
	// typed Secret applies to its metadata informer too.
	opts.ByObject[&corev1.Secret{}] = secrets
	return opts
}

// slimRequest drops from a cached CertificateRequest what the cache's
// readers (predicates, indexes, the holder look-ups) never read.
var slimRequest toolscache.TransformFunc = func(in any) (any, error) {
	if cr, ok := in.(*cmapi.CertificateRequest); ok {
		cr.ManagedFields = nil
		// The issuerRef alone: the CSR, the requester's identity, usages
		// and duration are read from the API server.
		cr.Spec = cmapi.CertificateRequestSpec{IssuerRef: cr.Spec.IssuerRef}
		cr.Status.Certificate = nil
		cr.Status.CA = nil
	}
	return in, nil
}

// slimSecretMetadata keeps of a Secret's metadata its identity and
// version: the controllers look Secrets up by name and compare versions
// (the values are always read from the API server).
var slimSecretMetadata toolscache.TransformFunc = func(in any) (any, error) {
	if m, ok := in.(*metav1.PartialObjectMetadata); ok {
		m.ObjectMeta = metav1.ObjectMeta{Name: m.Name, Namespace: m.Namespace, UID: m.UID,
			ResourceVersion: m.ResourceVersion, Generation: m.Generation, DeletionTimestamp: m.DeletionTimestamp}
		return m, nil
	}
	if o, err := meta.Accessor(in); err == nil && o.GetManagedFields() != nil {
		o.SetManagedFields(nil)
	}
	return in, nil
}
