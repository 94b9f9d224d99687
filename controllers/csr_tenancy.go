package controllers

import (
	"context"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// The trust rules of CertificateRequests hold for CSRs: whoever creates a
// CSR writes its annotations, so the order state there is acted on only
// with the MAC the controller computed for this very CSR (statetrust.go);
// anything else is no state, rewritten and noted once in an Event.

// settleState sets the state the attempt acts on and rewrites annotations
// holding state the controller did not write for this CSR.
func (a *csrAttempt) settleState(ctx context.Context) error {
	st, trust := a.r.key.load(a.csr)
	a.state = st
	if trust != stateUntrusted {
		return nil
	}
	before := a.csr.DeepCopy()
	a.r.key.storeTrusted(a.csr, st)
	if err := a.r.Client.Patch(ctx, a.csr, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		*a.csr = *before
		return err
	}
	a.emit(nil, "Warning", reasonUntrustedOrderState, actionSign,
		"the order state annotations of this CertificateSigningRequest were not written by the issuer for it (copied from another request, set when it was created, or edited since): they are ignored")
	return nil
}

// orderHeldByOther reports whether a live request other than this CSR (a
// CertificateRequest or another CSR) holds the CAS order id in state the
// controller trusts: recovering a create whose answer was lost never takes
// over another request's order.
func (a *csrAttempt) orderHeldByOther(ctx context.Context, id string) (bool, error) {
	var crs cmapi.CertificateRequestList
	if err := a.r.Client.List(ctx, &crs, client.MatchingFields{indexRequestOrder: id}); err != nil {
		return false, err
	}
	for i := range crs.Items {
		o := &crs.Items[i]
		if live := !isTerminal(o) || controllerutil.ContainsFinalizer(o, v1alpha1.FinalizerCancelOrder); !live {
			continue
		}
		if a.r.key.records(o, indexRequestOrder, id) {
			return true, nil
		}
	}
	return csrHoldsOrder(ctx, a.r.Client, a.r.key, a.csr.UID, id)
}

// csrHoldsOrder reports whether a live CSR other than except holds the CAS
// order id in state the controller trusts.
func csrHoldsOrder(ctx context.Context, c client.Client, key stateKey, except types.UID, id string) (bool, error) {
	var csrs certificatesv1.CertificateSigningRequestList
	if err := c.List(ctx, &csrs, client.MatchingFields{indexRequestOrder: id}); err != nil {
		return false, err
	}
	for i := range csrs.Items {
		o := &csrs.Items[i]
		if live := !csrFinished(o) || controllerutil.ContainsFinalizer(o, v1alpha1.FinalizerCancelOrder); !live || o.UID == except {
			continue
		}
		if key.records(o, indexRequestOrder, id) {
			return true, nil
		}
	}
	return false, nil
}
