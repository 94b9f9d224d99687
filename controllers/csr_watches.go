package controllers

import (
	"context"

	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// csrPredicate lets through the CSRs for this issuer's signer names, and of
// their updates those that need a reaction: approval, denial, deletion.
// The reconciler's own writes do not wake it.
func csrPredicate() predicate.Predicate {
	return requestEvents(func(csr *certificatesv1.CertificateSigningRequest) bool {
		_, ok := parseSignerName(csr.Spec.SignerName)
		return ok
	}, func(o, n *certificatesv1.CertificateSigningRequest) bool {
		return csrApproved(o) != csrApproved(n) ||
			csrHas(o, certificatesv1.CertificateDenied) != csrHas(n, certificatesv1.CertificateDenied) ||
			(o.DeletionTimestamp == nil) != (n.DeletionTimestamp == nil)
	})
}

// issuerHandler maps an issuer to the unfinished CSRs that name it.
func (r *CertificateSigningRequestReconciler) issuerHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		iss, ok := o.(v1alpha1.GenericIssuer)
		if !ok {
			return nil
		}
		var list certificatesv1.CertificateSigningRequestList
		if err := r.Client.List(ctx, &list, client.MatchingFields{indexCSRIssuer: issuerKey(iss.KindName(), iss.GetNamespace(), iss.GetName())}); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			csr := &list.Items[i]
			if csrFinished(csr) && !controllerutil.ContainsFinalizer(csr, v1alpha1.FinalizerCancelOrder) {
				continue
			}
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(csr)})
		}
		return reqs
	})
}
