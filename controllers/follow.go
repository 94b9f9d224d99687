package controllers

import (
	"context"
	"time"

	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// follower is a request attempt, of either kind, that carries out what
// follows a verdict's status write.
type follower interface {
	// issuedNow counts the request issued.
	issuedNow()
	// finish drops the finalizer of an issued request, recording the
	// state it ended in with the same write.
	finish(ctx context.Context) error
	release(ctx context.Context) (ctrl.Result, error)
}

// follow does what comes after a verdict's status write (req is the
// request, iss its issuer, st its order state now): finish or release,
// else when to look again. A request waiting for its issuer is woken by
// the issuer turning Ready; issuerWait is a safety net.
func follow(ctx context.Context, f follower, req client.Object, iss v1alpha1.GenericIssuer, v verdict, st signer.OrderState, issuerWait time.Duration) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	switch v.then {
	case thenFinish:
		f.issuedNow()
		log.Info("certificate issued", "orderID", st.OrderID)
		if len(st.ValidationRecords) > 0 {
			// Records whose removal failed: the release retries it.
			return f.release(ctx)
		}
		return ctrl.Result{}, f.finish(ctx)
	case thenRelease:
		observeFailed(req, iss, v.event.reason)
		log.Info("request failed", "reason", v.event.reason, "message", v.event.text)
		return f.release(ctx)
	}
	if v.retry {
		log.Info("temporary error, will retry", "message", v.message, "retryAfter", v.requeue)
	}
	if v.awaitIssuer {
		return ctrl.Result{RequeueAfter: issuerWait}, nil
	}
	return ctrl.Result{RequeueAfter: v.requeue}, nil
}
