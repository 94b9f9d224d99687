package controllers

import (
	"context"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

const (
	eventSource       = "aliyun-cas-issuer"
	issuerKind        = v1alpha1.IssuerKind
	clusterIssuerKind = v1alpha1.ClusterIssuerKind

	// indexRequestIssuer indexes CertificateRequests by issuerKey.
	indexRequestIssuer = "aliyun-cas-issuer.io/issuer"
	// indexIssuerSecret indexes issuers by the names of the Secrets they
	// read (spec.auth's and the Alidns auth's), so that a change to either
	// re-checks the issuer at once.
	indexIssuerSecret = "aliyun-cas-issuer.io/secret"
)

// issuerKey names an issuer in one string: "Kind/namespace/name", with an
// empty namespace for cluster issuers.
func issuerKey(kind, namespace, name string) string {
	if kind == clusterIssuerKind {
		namespace = ""
	}
	return fmt.Sprintf("%s/%s/%s", kind, namespace, name)
}

// requestIssuerKind returns the issuer kind a request names, and whether the
// request is for this issuer at all.
func requestIssuerKind(cr *cmapi.CertificateRequest) (string, bool) {
	if cr.Spec.IssuerRef.Group != v1alpha1.GroupName {
		return "", false
	}
	switch cr.Spec.IssuerRef.Kind {
	case "", issuerKind:
		return issuerKind, true
	case clusterIssuerKind:
		return clusterIssuerKind, true
	}
	return "", false
}

// requestIssuerKey is the issuerKey of the issuer a request names.
func requestIssuerKey(cr *cmapi.CertificateRequest) (string, bool) {
	kind, ok := requestIssuerKind(cr)
	if !ok {
		return "", false
	}
	return issuerKey(kind, cr.Namespace, cr.Spec.IssuerRef.Name), true
}

func setupIndexes(mgr manager.Manager) error {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &cmapi.CertificateRequest{}, indexRequestIssuer, func(o client.Object) []string {
		cr, ok := o.(*cmapi.CertificateRequest)
		if !ok {
			return nil
		}
		if k, ok := requestIssuerKey(cr); ok {
			return []string{k}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing CertificateRequests by issuer: %w", err)
	}
	secretName := func(o client.Object) []string {
		iss, ok := o.(v1alpha1.GenericIssuer)
		if !ok {
			return nil
		}
		return issuerSecretNames(iss.GetSpec())
	}
	for _, obj := range []client.Object{&v1alpha1.AliyunCASIssuer{}, &v1alpha1.AliyunCASClusterIssuer{}} {
		if err := idx.IndexField(ctx, obj, indexIssuerSecret, secretName); err != nil {
			return fmt.Errorf("indexing %T by Secret: %w", obj, err)
		}
	}
	if err := idx.IndexField(ctx, &cmapi.CertificateRequest{}, indexRequestInstance, indexInstance); err != nil {
		return fmt.Errorf("indexing CertificateRequests by CAS instance: %w", err)
	}
	if err := idx.IndexField(ctx, &cmapi.CertificateRequest{}, indexRequestOrder, indexOrder); err != nil {
		return fmt.Errorf("indexing CertificateRequests by CAS order: %w", err)
	}
	return nil
}
