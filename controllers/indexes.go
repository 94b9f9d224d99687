package controllers

import (
	"context"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/types"
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
	// indexRequestOrder indexes CertificateRequests by the CAS order id
	// recorded on them.
	indexRequestOrder = v1alpha1.AnnotationOrderID
)

// indexOrder is the field index function of indexRequestOrder.
func indexOrder(o client.Object) []string {
	if id := o.GetAnnotations()[v1alpha1.AnnotationOrderID]; id != "" {
		return []string{id}
	}
	return nil
}

// orderTaken reports whether a request other than uid records the CAS
// order id (finished requests included: their order was theirs).
func orderTaken(c client.Client, uid types.UID) func(ctx context.Context, id string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) {
		var l cmapi.CertificateRequestList
		if err := c.List(ctx, &l, client.MatchingFields{indexRequestOrder: id}); err != nil {
			return false, err
		}
		for i := range l.Items {
			if l.Items[i].UID != uid {
				return true, nil
			}
		}
		return false, nil
	}
}

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
