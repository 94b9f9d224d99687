package controllers

import (
	"context"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// requestPredicate lets through CertificateRequests for this issuer, and of
// their updates only those that need a reaction: approval, denial,
// deletion. The reconciler's own writes (annotations, status) do not wake
// it: a pending order is looked at again when the signer said, not sooner.
func requestPredicate() predicate.Predicate {
	return requestEvents(func(cr *cmapi.CertificateRequest) bool {
		_, ok := requestIssuerKind(cr)
		return ok
	}, func(oldCR, newCR *cmapi.CertificateRequest) bool {
		return isApproved(oldCR) != isApproved(newCR) ||
			isDenied(oldCR) != isDenied(newCR) ||
			(oldCR.DeletionTimestamp == nil) != (newCR.DeletionTimestamp == nil) ||
			// Someone reset the Ready condition, e.g. to retry by hand.
			(requestCondition(oldCR, cmapi.CertificateRequestConditionReady) != nil &&
				requestCondition(newCR, cmapi.CertificateRequestConditionReady) == nil)
	})
}

// requestEvents passes the requests (of a kind P) that ours accepts when
// they appear, and of their updates those wake says need a reaction.
// Deletions pass as updates (the cancel-order finalizer holds them), so
// delete events are dropped.
func requestEvents[T any, P requestObject[T]](ours func(P) bool, wake func(old, new P) bool) predicate.Predicate {
	accepted := func(o client.Object) (P, bool) {
		p, ok := o.(P)
		return p, ok && ours(p)
	}
	return predicate.Funcs{
		CreateFunc:  func(e event.CreateEvent) bool { _, ok := accepted(e.Object); return ok },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(e event.GenericEvent) bool { _, ok := accepted(e.Object); return ok },
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, ok1 := e.ObjectOld.(P)
			n, ok2 := accepted(e.ObjectNew)
			return ok1 && ok2 && wake(o, n)
		},
	}
}

// issuerReadyPredicate passes issuers that appear, and issuers that become
// Ready: the moments when waiting requests can move.
func issuerReadyPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			oldIss, ok1 := e.ObjectOld.(v1alpha1.GenericIssuer)
			newIss, ok2 := e.ObjectNew.(v1alpha1.GenericIssuer)
			return ok1 && ok2 && v1alpha1.IsReady(newIss) && !v1alpha1.IsReady(oldIss)
		},
	}
}

// issuerHandler maps an issuer to the unfinished requests that name it.
func (r *CertificateRequestReconciler) issuerHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		iss, ok := o.(v1alpha1.GenericIssuer)
		if !ok {
			return nil
		}
		opts := []client.ListOption{client.MatchingFields{indexRequestIssuer: issuerKey(iss.KindName(), iss.GetNamespace(), iss.GetName())}}
		if !iss.IsClusterScoped() {
			opts = append(opts, client.InNamespace(iss.GetNamespace()))
		}
		var list cmapi.CertificateRequestList
		if err := r.Client.List(ctx, &list, opts...); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			cr := &list.Items[i]
			if isTerminal(cr) && !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) {
				continue
			}
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(cr)})
		}
		return reqs
	})
}

// secretHandler maps a Secret to the issuers of kind that use it.
func (r *IssuerReconciler) secretHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var items []client.Object
		match := client.MatchingFields{indexIssuerSecret: o.GetName()}
		if r.Kind == clusterIssuerKind {
			if o.GetNamespace() != r.opts.ClusterResourceNamespace {
				return nil
			}
			var list v1alpha1.AliyunCASClusterIssuerList
			if err := r.Client.List(ctx, &list, match); err != nil {
				return nil
			}
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
		} else {
			var list v1alpha1.AliyunCASIssuerList
			if err := r.Client.List(ctx, &list, match, client.InNamespace(o.GetNamespace())); err != nil {
				return nil
			}
			for i := range list.Items {
				items = append(items, &list.Items[i])
			}
		}
		reqs := make([]reconcile.Request, 0, len(items))
		for _, it := range items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(it)})
		}
		return reqs
	})
}
