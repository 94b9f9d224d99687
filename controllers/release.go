package controllers

import (
	"context"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	ctrl "sigs.k8s.io/controller-runtime"
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
	if isIssued(cr) {
		// Only its validation records are left to give back.
		st = recordsOnly(st)
	}
	if err := a.checkHeld(ctx, st); err != nil {
		if _, ok := signer.AsPermanent(err); ok {
			// Another live request holds the order: never cancel it.
			ctrl.LoggerFrom(ctx).Info("not cancelling an order another request holds", "reason", err.Error())
			st = recordsOnly(st)
		}
	} else if handed, err := a.handOver(ctx, st); err != nil {
		return requeueOnWriteRace(err)
	} else if handed {
		// Kept for the request cert-manager creates again (handover.go).
		return a.unfinalize(ctx)
	}
	return giveBack(ctx, a, &a.resolved, r.signers, r.opts, st)
}

// releaser is a request that gives back the remote order state it holds;
// giveBack drives it, the same way for every kind of request.
type releaser interface {
	// lookupIssuer reads the request's issuer.
	lookupIssuer(ctx context.Context) (v1alpha1.GenericIssuer, error)
	// emit records an Event on the request, related to iss (may be nil).
	emit(iss v1alpha1.GenericIssuer, typ, reason, action, text string)
	// unfinalize drops the cancel-order finalizer.
	unfinalize(ctx context.Context) (ctrl.Result, error)
	// retryDelay is the request's next backoff delay.
	retryDelay() time.Duration
	// releaseStart is when the request stopped needing its order.
	releaseStart() time.Time
}

// giveBack cancels what st holds through the request's issuer (resolved
// in res when not yet), then drops the finalizer; transient errors keep it
// for Options.CancelGiveUp.
func giveBack(ctx context.Context, rel releaser, res *resolved, signers *signerSource, opts Options, st signer.OrderState) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx).WithValues("orderID", st.OrderID, "instanceID", st.InstanceID)
	if res.iss == nil {
		iss, err := rel.lookupIssuer(ctx)
		if err != nil {
			if !apierrors.IsNotFound(err) {
				return ctrl.Result{}, err
			}
			rel.emit(nil, "Warning", eventOrderNotCancelled, actionCancel, st.Name()+" not cancelled: its issuer no longer exists")
			return rel.unfinalize(ctx)
		}
		res.iss = iss
	}
	var done signer.Cancelled
	var err error
	res.entry, done, err = signers.cancel(ctx, res.iss, res.entry, st, opts.SignTimeout)
	if err == nil {
		log.Info("released", "what", done.Summary)
		if done.Reason != "" {
			rel.emit(res.iss, "Normal", conditionReason(done.Reason, eventOrderCancelled), actionCancel, scrub(done.Summary, res.secrets()))
		}
		return rel.unfinalize(ctx)
	}
	msg := scrub(err.Error(), res.secrets())
	if retryCancel(err, rel.releaseStart(), opts.CancelGiveUp) {
		delay := rel.retryDelay()
		log.Info("cancelling order failed, will retry", "error", msg, "retryAfter", delay)
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	log.Info("giving up cancelling order", "error", msg)
	rel.emit(res.iss, "Warning", eventOrderNotCancelled, actionCancel, msg)
	return rel.unfinalize(ctx)
}

func (a *attempt) lookupIssuer(ctx context.Context) (v1alpha1.GenericIssuer, error) {
	return a.r.getIssuer(ctx, a.cr)
}

func (a *attempt) emit(iss v1alpha1.GenericIssuer, typ, reason, action, text string) {
	a.r.event(a.cr, iss, typ, reason, action, text)
}

func (a *attempt) retryDelay() time.Duration { return a.r.backoff.When(a.key()) }

func (a *attempt) releaseStart() time.Time { return releaseStart(a.cr) }

func (a *attempt) unfinalize(ctx context.Context) (ctrl.Result, error) {
	a.r.backoff.Forget(a.key())
	// The annotations catch up with the state in the same patch.
	if err := finishRequest(ctx, a.r.Client, a.r.key, a.cr, a.state); err != nil {
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

// cancel gives back what st holds remotely through the issuer's signer
// (entry, built when nil), within timeout. It returns the entry for
// scrubbing messages (nil if it could not be built).
func (s *signerSource) cancel(ctx context.Context, iss v1alpha1.GenericIssuer, entry *signerEntry, st signer.OrderState, timeout time.Duration) (*signerEntry, signer.Cancelled, error) {
	if entry == nil {
		// With what the order was placed with, however the issuer changed.
		var err error
		if entry, _, _, err = s.forState(ctx, iss, st); err != nil {
			return nil, signer.Cancelled{}, err
		}
	}
	cctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	done, err := entry.signer.Cancel(cctx, st)
	return entry, done, err
}

// retryCancel reports whether a failed cancellation is worth another try:
// a transient error, within giveUp of since (when the request stopped
// needing its order).
func retryCancel(err error, since time.Time, giveUp time.Duration) bool {
	_, permanent := signer.AsPermanent(err)
	_, issuerErr := signer.AsIssuer(err)
	return !permanent && !issuerErr && time.Since(since) < giveUp
}
