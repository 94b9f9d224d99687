package controllers

import (
	"context"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// What a requester writes cannot move another tenant's order, key, DNS
// record or quota: the attempt acts only on order state the controller
// wrote for this very request (settleState), and never on a remote object
// another live request holds (checkHeld, heldByOther).

const (
	// indexRequestOrder indexes CertificateRequests by the CAS order
	// recorded on them (annotation aliyun-cas-issuer.io/order-id).
	indexRequestOrder = v1alpha1.AnnotationOrderID

	// reasonHeldByAnotherRequest: the request's order or instance is held
	// by another live request; nothing is done with it.
	reasonHeldByAnotherRequest = "HeldByAnotherRequest"
)

// indexOrder is the field index function of indexRequestOrder: the order
// id of the annotations and, for a CertificateRequest, of the status mirror
// (which holds an order id learned from the create's answer before the
// annotations do; see stateKey.recorded).
func indexOrder(o client.Object) []string {
	return indexIDs(o.GetAnnotations()[v1alpha1.AnnotationOrderID], o, func(st signer.OrderState) string { return st.OrderID })
}

// indexIDs is id, and the id the status mirror of a CertificateRequest o
// names (by of), when another.
func indexIDs(id string, o client.Object, of func(signer.OrderState) string) []string {
	var ids []string
	if id != "" {
		ids = append(ids, id)
	}
	if cr, ok := o.(*cmapi.CertificateRequest); ok {
		if m, ok := mirrorOf(cr); ok {
			if mid := of(m.OrderState); mid != "" && mid != id {
				ids = append(ids, mid)
			}
		}
	}
	return ids
}

// settleState decides which order state the attempt acts on: the
// annotations' when the controller can tell it wrote them for this
// request, else the state mirrored in the status, else none. Annotations
// that hold anything else are rewritten with that state, and an untrusted
// state is noted once in a Warning Event (once: after the rewrite the
// annotations are trusted again).
func (a *attempt) settleState(ctx context.Context) error {
	k := a.r.key
	st, repair, untrusted := k.trusted(a.cr)
	a.state = st
	if !repair {
		return nil
	}
	before := a.cr.DeepCopy()
	k.storeTrusted(a.cr, st)
	if !stateEmpty(st) {
		// The state says a remote order may exist: keep it until released.
		controllerutil.AddFinalizer(a.cr, v1alpha1.FinalizerCancelOrder)
	}
	if err := a.r.Client.Patch(ctx, a.cr, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		*a.cr = *before
		return err
	}
	if untrusted {
		note := "the order state annotations of this request were not written by the issuer for it (copied from another request, set when it was created, or edited since): they are ignored"
		if !stateEmpty(st) {
			note += "; the state the issuer recorded in the status is used instead"
		}
		a.r.event(a.cr, nil, "Warning", reasonUntrustedOrderState, actionSign, note)
	}
	return nil
}

// checkHeld refuses state naming an order or instance another live request
// holds: such a remote object is never polled, adopted, cancelled or
// answered from.
func (a *attempt) checkHeld(ctx context.Context, st signer.OrderState) error {
	for _, c := range []struct{ index, id, what string }{
		{indexRequestOrder, st.OrderID, "CAS order"},
		{indexRequestInstance, st.InstanceID, "CAS instance"},
	} {
		if c.id == "" {
			continue
		}
		h, err := a.holder(ctx, c.index, c.id)
		if err != nil {
			return signer.Transient(signer.ReasonOrderLookup, 0, fmt.Errorf("looking up which requests hold %s %s: %w", c.what, c.id, err))
		}
		switch h {
		case heldBySibling:
			// The request of the same Certificate whose key was adopted
			// is handing its instance over: look again shortly.
			return signer.Transient(reasonHeldByAnotherRequest, 0, fmt.Errorf("%s %s is still held by an earlier request of the same Certificate", c.what, c.id))
		case heldByOther:
			return signer.Permanent(reasonHeldByAnotherRequest, "%s %s is held by another request; this request does not act on it", c.what, c.id)
		}
	}
	return nil
}

// holding says who else holds a remote object.
type holding int

const (
	heldByNone holding = iota
	// heldBySibling: a request owned by the same Certificate.
	heldBySibling
	heldByOther
)

// heldByOther reports whether a live request other than this one holds id.
func (a *attempt) heldByOther(ctx context.Context, index, id string) (bool, error) {
	h, err := a.holder(ctx, index, id)
	return h != heldByNone, err
}

// holder tells whether a live request other than this one holds id (an
// order or instance id, by index) in state the controller trusts. A
// request whose key was adopted has handed its instance over to the
// request built from that key: it holds nothing.
func (a *attempt) holder(ctx context.Context, index, id string) (holding, error) {
	var l cmapi.CertificateRequestList
	if err := a.r.Client.List(ctx, &l, client.MatchingFields{index: id}); err != nil {
		return heldByNone, err
	}
	h := heldByNone
	for i := range l.Items {
		o := &l.Items[i]
		if o.UID == a.cr.UID || keyAdopted(o) {
			continue
		}
		if isTerminal(o) && !controllerutil.ContainsFinalizer(o, v1alpha1.FinalizerCancelOrder) {
			continue
		}
		if !a.r.key.records(o, index, id) {
			continue
		}
		if sameOwner(o, a.cr) {
			h = heldBySibling
			continue
		}
		return heldByOther, nil
	}
	if index == indexRequestOrder && !a.r.opts.NoCertificateSigningRequests {
		// Kubernetes CSRs hold orders too.
		held, err := csrHoldsOrder(ctx, a.r.Client, a.r.key, "", id)
		if err != nil {
			return heldByNone, err
		}
		if held {
			return heldByOther, nil
		}
	}
	return h, nil
}

// records reports whether o's trusted order state records id (an order id
// for indexRequestOrder, an instance id for indexRequestInstance).
func (k stateKey) records(o client.Object, index, id string) bool {
	st, ok := k.recorded(o)
	return ok && ((index == indexRequestOrder && st.OrderID == id) || (index == indexRequestInstance && st.InstanceID == id))
}

// sameOwner reports whether two requests have the same controller owner
// (the Certificate that made them).
func sameOwner(x, y client.Object) bool {
	ox, oy := metav1.GetControllerOf(x), metav1.GetControllerOf(y)
	return ox != nil && oy != nil && ox.UID == oy.UID && x.GetNamespace() == y.GetNamespace()
}
