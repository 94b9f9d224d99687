package controllers

import (
	"strings"

	corev1 "k8s.io/api/core/v1"
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
func CacheOptions(secretNamespaces, clusterResourceNamespace string) cache.Options {
	secretNamespaces = strings.TrimSpace(secretNamespaces)
	if secretNamespaces == "" || secretNamespaces == "*" {
		return cache.Options{}
	}
	nss := map[string]cache.Config{}
	for ns := range strings.SplitSeq(secretNamespaces, ",") {
		if ns = strings.TrimSpace(ns); ns == "*" {
			return cache.Options{}
		} else if ns != "" {
			nss[ns] = cache.Config{}
		}
	}
	if clusterResourceNamespace != "" {
		nss[clusterResourceNamespace] = cache.Config{}
	}
	return cache.Options{ByObject: map[client.Object]cache.ByObject{&corev1.Secret{}: {Namespaces: nss}}}
}
