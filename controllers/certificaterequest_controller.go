package controllers

import (
	"context"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests/status,verbs=get;patch
// +kubebuilder:rbac:groups=cert-manager.io,resources=certificaterequests/finalizers,verbs=update
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch

// Messages of the Ready condition while the issuer waits.
const (
	msgWaitingForApproval = "waiting for approval"
	// approvalGrace is how long a request may wait for approval before its
	// condition says so.
	approvalGrace = 5 * time.Second
	msgDenied     = "The CertificateRequest was denied by an approval controller"
)

// Event reasons the CertificateRequest reconciler emits (besides the
// signer's own reasons for pending orders, failures and transient errors).
// Events of the same type, reason and action about the same object are
// merged by the events API into a series that keeps the first note: each
// distinct piece of news needs its own reason.
const (
	eventIssued            = "Issued"
	eventIssuerNotReady    = "IssuerNotReady"
	eventRetrying          = "Retrying"
	eventOrderPending      = "OrderPending"
	eventOrderCancelled    = "OrderCancelled"
	eventOrderNotCancelled = "OrderNotCancelled"

	// Event actions: signing, retrying after a transient error (Warning),
	// giving back what a request holds.
	actionSign   = "Sign"
	actionRetry  = "Retry"
	actionCancel = "Cancel"
)

// CertificateRequestReconciler signs approved CertificateRequests whose
// issuerRef names an AliyunCASIssuer or AliyunCASClusterIssuer.
type CertificateRequestReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder

	// key authenticates the order state (statetrust.go).
	key     stateKey
	signers *signerSource
	opts    Options
	// backoff spaces retries after transient errors, per request.
	backoff workqueue.TypedRateLimiter[types.NamespacedName]
}

// SetupWithManager watches CertificateRequests for this issuer, and issuers
// becoming Ready (to wake the requests waiting for them).
func (r *CertificateRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](r.opts.MinRetryDelay, r.opts.MaxRetryDelay)
	return ctrl.NewControllerManagedBy(mgr).
		Named("aliyuncas-certificaterequest").
		For(&cmapi.CertificateRequest{}, builder.WithPredicates(requestPredicate())).
		Watches(&v1alpha1.AliyunCASIssuer{}, r.issuerHandler(), builder.WithPredicates(issuerReadyPredicate())).
		Watches(&v1alpha1.AliyunCASClusterIssuer{}, r.issuerHandler(), builder.WithPredicates(issuerReadyPredicate())).
		WithOptions(controller.Options{MaxConcurrentReconciles: r.opts.MaxConcurrentReconciles}).
		Complete(r)
}

// Reconcile moves one CertificateRequest one step on.
func (r *CertificateRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if err != nil && ctx.Err() != nil {
		// Shutting down: the next manager resumes from the saved state.
		return ctrl.Result{}, nil
	}
	return res, err
}

func (r *CertificateRequestReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cached := &cmapi.CertificateRequest{}
	if err := r.Client.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.backoff.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if _, ours := requestIssuerKind(cached); !ours {
		return ctrl.Result{}, nil
	}
	holds := controllerutil.ContainsFinalizer(cached, v1alpha1.FinalizerCancelOrder)
	if (cached.DeletionTimestamp != nil || isTerminal(cached)) && !holds {
		r.backoff.Forget(req.NamespacedName)
		return ctrl.Result{}, nil
	}

	// Everything from here on acts on what the API server holds: the order
	// state must never be read from a stale cache, or an order could be
	// placed twice.
	cr := &cmapi.CertificateRequest{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, cr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	a := &attempt{r: r, cr: cr}
	if err := a.settleState(ctx); err != nil {
		return requeueOnWriteRace(err)
	}
	st, wait := stepOf(cr, time.Now())
	switch st {
	case stepRelease:
		uncountPending(cr)
		return a.release(ctx)
	case stepDeny:
		return a.deny(ctx)
	case stepAwaitApproval:
		return ctrl.Result{RequeueAfter: wait}, nil
	case stepReportUnapproved:
		return a.apply(ctx, verdict{status: cmmeta.ConditionFalse, reason: cmapi.CertificateRequestReasonPending, message: msgWaitingForApproval})
	}
	return a.sign(ctx)
}

// getIssuer reads the issuer a request names.
func (r *CertificateRequestReconciler) getIssuer(ctx context.Context, cr *cmapi.CertificateRequest) (v1alpha1.GenericIssuer, error) {
	kind, _ := requestIssuerKind(cr)
	iss := v1alpha1.NewIssuer(kind)
	key := types.NamespacedName{Name: cr.Spec.IssuerRef.Name}
	if !iss.IsClusterScoped() {
		key.Namespace = cr.Namespace
	}
	if err := r.Client.Get(ctx, key, iss); err != nil {
		return nil, err
	}
	return iss, nil
}

// signRequest is the plain request the signer sees, with state the
// controller trusts.
func signRequest(cr *cmapi.CertificateRequest, state signer.OrderState) signer.Request {
	req := signer.Request{
		Name:                 cr.Namespace + "/" + cr.Name,
		CSRPEM:               cr.Spec.Request,
		IsCA:                 cr.Spec.IsCA,
		NextPrivateKeySecret: cr.GetAnnotations()[cmapi.CertificateRequestPrivateKeyAnnotationKey],
		State:                state,
	}
	if cr.Spec.Duration != nil {
		req.Duration = cr.Spec.Duration.Duration
	}
	for _, u := range cr.Spec.Usages {
		req.Usages = append(req.Usages, string(u))
	}
	return req
}

// attempt is one reconcile of one CertificateRequest: the request as the
// API server holds it, and, once resolved, its issuer and signer.
type attempt struct {
	r  *CertificateRequestReconciler
	cr *cmapi.CertificateRequest
	// state is the order state the controller trusts (settleState).
	state signer.OrderState
	// iss and entry are nil until resolved.
	iss   v1alpha1.GenericIssuer
	entry *signerEntry
	// nextKey is the request's next-private-key Secret, once verified as
	// the one of the Certificate owning the request (DV flow).
	nextKey *corev1.Secret
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
	if err := a.checkHeld(ctx, a.state); err != nil {
		return a.decideAndApply(ctx, signer.Outcome{}, err)
	}
	sreq := signRequest(a.cr, a.state)
	sreq.OrderTaken = func(ctx context.Context, id string) (bool, error) {
		return a.heldByOther(ctx, indexRequestOrder, id)
	}
	switch (signer.Config{OrderAPI: string(iss.GetSpec().OrderAPI)}).WithDefaults().OrderAPI {
	case signer.OrderAPIInstance:
		a.prepareInstanceRequest(&sreq)
	case signer.OrderAPIDVOrder:
		if err := a.prepareDVRequest(ctx, &sreq); err != nil {
			return a.decideAndApply(ctx, signer.Outcome{}, err)
		}
	}
	ctrl.LoggerFrom(ctx).V(1).Info("signing", "orderID", sreq.State.OrderID, "instanceID", sreq.State.InstanceID)
	sctx, cancel := context.WithTimeout(ctx, r.opts.SignTimeout)
	out, err := a.entry.signer.Sign(sctx, sreq, &requestStore{client: r.Client, reader: r.APIReader, key: r.key, cr: a.cr})
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
	// The status write carries the trusted state too (never a write of
	// its own).
	mirrored := loadState(cr)
	if v.unsaved != nil {
		mirrored = *v.unsaved
	}
	r.key.mirror(cr, mirrored)
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
	for _, w := range v.warnings {
		r.event(cr, a.iss, "Warning", signer.ReasonSubjectNotCarried, actionSign, scrub(w, a.secrets()))
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
		return ctrl.Result{}, finishRequest(ctx, r.Client, r.key, cr, v.unsaved)
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
	a.r.key.mirror(cr, a.state)
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
