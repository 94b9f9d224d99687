package controllers

import (
	"context"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// release gives back what a finished (issued, failed, denied) or deleted
// request holds remotely, then drops the cancel-order finalizer. An issued
// request holds nothing to give back. Transient errors are retried for
// Options.CancelGiveUp; after that, or when the issuer is gone, the
// finalizer goes anyway with a Warning Event, so that a request (or its
// namespace) can always be deleted.
func (a *attempt) release(ctx context.Context) (ctrl.Result, error) {
	r, cr := a.r, a.cr
	if !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) {
		return ctrl.Result{}, nil
	}
	st := a.state
	// An issued request holds nothing to give back but validation records
	// whose removal failed at issuance.
	// A request whose key was adopted handed its order to the request
	// cert-manager builds from that key: nothing to cancel either.
	if stateEmpty(st) || ((isIssued(cr) || keyAdopted(cr)) && len(st.ValidationRecords) == 0) {
		return a.unfinalize(ctx)
	}
	log := ctrl.LoggerFrom(ctx).WithValues("orderID", st.OrderID, "instanceID", st.InstanceID)
	if isIssued(cr) {
		// Only its validation records are left to give back.
		st = signer.OrderState{ValidationRecords: st.ValidationRecords}
	}
	if err := a.checkHeld(ctx, st); err != nil {
		if _, ok := signer.AsPermanent(err); ok {
			// Another live request holds the order: never cancel it.
			log.Info("not cancelling an order another request holds", "reason", err.Error())
			st = signer.OrderState{ValidationRecords: st.ValidationRecords}
		}
	}

	if a.iss == nil {
		iss, err := r.getIssuer(ctx, cr)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			r.event(cr, nil, "Warning", eventOrderNotCancelled, actionCancel, st.Name()+" not cancelled: its issuer no longer exists")
			return a.unfinalize(ctx)
		}
		a.iss = iss
	}
	var done signer.Cancelled
	var err error
	if a.entry == nil {
		a.entry, err = r.signers.get(ctx, a.iss)
	}
	if err == nil {
		cctx, cancel := context.WithTimeout(ctx, r.opts.SignTimeout)
		done, err = a.entry.signer.Cancel(cctx, st)
		cancel()
	}
	if err == nil {
		log.Info("released", "what", done.Summary)
		if done.Reason != "" {
			r.event(cr, a.iss, "Normal", conditionReason(done.Reason, eventOrderCancelled), actionCancel, scrub(done.Summary, a.secrets()))
		}
		return a.unfinalize(ctx)
	}
	msg := scrub(err.Error(), a.secrets())
	_, permanent := signer.AsPermanent(err)
	_, issuerErr := signer.AsIssuer(err)
	if !permanent && !issuerErr && time.Since(releaseStart(cr)) < r.opts.CancelGiveUp {
		delay := r.backoff.When(client.ObjectKeyFromObject(cr))
		log.Info("cancelling order failed, will retry", "error", msg, "retryAfter", delay)
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	log.Info("giving up cancelling order", "error", msg)
	r.event(cr, a.iss, "Warning", eventOrderNotCancelled, actionCancel, msg)
	return a.unfinalize(ctx)
}

func (a *attempt) unfinalize(ctx context.Context) (ctrl.Result, error) {
	a.r.backoff.Forget(a.key())
	if err := removeFinalizer(ctx, a.r.Client, a.cr); err != nil {
		if apierrors.IsNotFound(err) {
			return ctrl.Result{}, nil
		}
		return requeueOnWriteRace(err)
	}
	return ctrl.Result{}, nil
}

// releaseStart is when the request stopped needing its order.
func releaseStart(cr *cmapi.CertificateRequest) time.Time {
	switch {
	case cr.DeletionTimestamp != nil:
		return cr.DeletionTimestamp.Time
	case cr.Status.FailureTime != nil:
		return cr.Status.FailureTime.Time
	}
	if c := requestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil && c.LastTransitionTime != nil {
		return c.LastTransitionTime.Time
	}
	return time.Now()
}
