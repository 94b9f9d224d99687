package controllers

import (
	"context"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// attempt is one reconcile of one CertificateRequest: the request as the
// API server holds it, and, once resolved, its issuer and signer.
type attempt struct {
	r  *CertificateRequestReconciler
	cr *cmapi.CertificateRequest
	// iss and entry are nil until resolved.
	iss   v1alpha1.GenericIssuer
	entry *signerEntry
}

// secrets are the credential values scrubbed from every message.
func (a *attempt) secrets() []string {
	if a.entry == nil {
		return nil
	}
	return a.entry.secrets
}

func (a *attempt) key() client.ObjectKey { return client.ObjectKeyFromObject(a.cr) }

// sign resolves the issuer and advances the order by one step.
func (a *attempt) sign(ctx context.Context) (ctrl.Result, error) {
	r := a.r
	iss, err := r.getIssuer(ctx, a.cr)
	if err != nil {
		if apierrors.IsNotFound(err) {
			kind, _ := requestIssuerKind(a.cr)
			return a.apply(ctx, waitForIssuer(fmt.Sprintf("issuer %s %s not found", kind, a.cr.Spec.IssuerRef.Name)))
		}
		return ctrl.Result{}, err
	}
	a.iss = iss
	if !v1alpha1.IsReady(iss) {
		return a.apply(ctx, waitForIssuer(fmt.Sprintf("issuer %s not ready: %s", iss.GetName(), issuerReadyMessage(iss))))
	}
	if a.entry, err = r.signers.get(ctx, iss); err != nil {
		return a.decideAndApply(ctx, signer.Outcome{}, err)
	}
	sreq := signRequest(a.cr)
	switch v1alpha1.OrderAPI(orDefault(string(iss.GetSpec().OrderAPI), string(v1alpha1.DefaultOrderAPI))) {
	case v1alpha1.OrderAPIInstance:
		r.prepareInstanceRequest(a.cr, &sreq)
	case v1alpha1.OrderAPIDVOrder:
		if err := a.prepareDVRequest(ctx, &sreq); err != nil {
			return a.decideAndApply(ctx, signer.Outcome{}, err)
		}
	}
	ctrl.LoggerFrom(ctx).V(1).Info("signing", "orderID", sreq.State.OrderID, "instanceID", sreq.State.InstanceID)
	sctx, cancel := context.WithTimeout(ctx, r.opts.SignTimeout)
	out, err := a.entry.signer.Sign(sctx, sreq, &requestStore{client: r.Client, reader: r.APIReader, cr: a.cr})
	cancel()
	if err == nil && out.Kind == signer.OutcomeAdoptKey {
		var raced bool
		if raced, err = a.writeAdoptedKey(ctx, out); raced {
			return ctrl.Result{RequeueAfter: conflictRequeue}, nil
		}
	}
	return a.decideAndApply(ctx, out, err)
}

func (a *attempt) decideAndApply(ctx context.Context, out signer.Outcome, err error) (ctrl.Result, error) {
	if err != nil && ctx.Err() != nil {
		// Shutting down: the next manager resumes from the saved state.
		return ctrl.Result{}, nil
	}
	in := signResult{current: a.cr, issuerName: a.iss.GetName(), outcome: out, err: err, secrets: a.secrets()}
	if a.entry != nil {
		in.poll = a.entry.poll
	}
	if err != nil {
		if _, ok := signer.AsPermanent(err); !ok {
			if _, ok := signer.AsIssuer(err); !ok {
				in.backoff = a.r.backoff.When(a.key())
			}
		}
	}
	return a.apply(ctx, decide(in))
}

// apply carries a verdict out: the status patch, its Event, the metrics
// and what follows.
func (a *attempt) apply(ctx context.Context, v verdict) (ctrl.Result, error) {
	r, cr := a.r, a.cr
	log := ctrl.LoggerFrom(ctx)
	if v.then == thenMarkIssuer {
		if perr := markIssuerNotReady(ctx, r.Client, r.Recorder, a.iss, v.issuerReason, v.issuerMessage); perr != nil {
			log.Error(scrubError(perr, a.secrets()), "marking issuer not ready")
		}
	}
	if v.pendingMetric {
		countPending(cr, a.iss)
	}
	base := cr.DeepCopy()
	now := metav1.Now()
	changed := setReady(cr, v.status, v.reason, v.message, now)
	if v.certificate != nil {
		cr.Status.Certificate = v.certificate
		if len(v.ca) > 0 {
			cr.Status.CA = v.ca
		}
		changed = true
	}
	if v.failed && cr.Status.FailureTime == nil {
		cr.Status.FailureTime = &now
		changed = true
	}
	if changed {
		if err := r.patchStatus(ctx, cr, base); err != nil {
			return requeueOnWriteRace(err)
		}
		if v.event != nil {
			r.event(cr, a.iss, v.event.typ, v.event.reason, v.event.action, v.event.text)
		}
	}
	if v.forget {
		r.backoff.Forget(a.key())
	}
	switch v.then {
	case thenFinish:
		observeIssued(cr, a.iss, time.Now())
		log.Info("certificate issued", "orderID", loadState(cr).OrderID)
		if len(loadState(cr).ValidationRecords) > 0 {
			// Records whose removal failed: the release retries it.
			return a.release(ctx)
		}
		return ctrl.Result{}, finishRequest(ctx, r.Client, cr, v.unsaved)
	case thenRelease:
		observeFailed(cr, a.iss, v.event.reason)
		log.Info("certificate request failed", "reason", v.event.reason, "message", v.event.text)
		return a.release(ctx)
	}
	if v.retry {
		log.Info("temporary error, will retry", "message", v.message, "retryAfter", v.requeue)
	}
	if v.awaitIssuer {
		// The issuer becoming Ready wakes the request; this is a safety net.
		return ctrl.Result{RequeueAfter: r.opts.HealthCheckInterval}, nil
	}
	return ctrl.Result{RequeueAfter: v.requeue}, nil
}

// deny marks a denied request terminal and gives back what it holds.
func (a *attempt) deny(ctx context.Context) (ctrl.Result, error) {
	cr := a.cr
	msg := msgDenied
	if c := requestCondition(cr, cmapi.CertificateRequestConditionDenied); c != nil && c.Message != "" {
		msg += ": " + c.Message
	}
	uncountPending(cr)
	base := cr.DeepCopy()
	now := metav1.Now()
	setReady(cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied, msg, now)
	if cr.Status.FailureTime == nil {
		cr.Status.FailureTime = &now
	}
	if err := a.r.patchStatus(ctx, cr, base); err != nil {
		return requeueOnWriteRace(err)
	}
	return a.release(ctx)
}

// conflictRequeue is how soon a write that lost a race is tried again.
const conflictRequeue = 200 * time.Millisecond
