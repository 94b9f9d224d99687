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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"

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

// requestDeps is what both request controllers (CertificateRequests and
// Kubernetes CertificateSigningRequests) sign with.
type requestDeps struct {
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

// CertificateRequestReconciler signs approved CertificateRequests whose
// issuerRef names an AliyunCASIssuer or AliyunCASClusterIssuer.
type CertificateRequestReconciler struct {
	requestDeps
	// desk serialises order handovers (handover.go).
	desk *handoverDesk
}

// SetupWithManager watches CertificateRequests for this issuer, and issuers
// becoming Ready (to wake the requests waiting for them).
func (r *CertificateRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](r.opts.MinRetryDelay, r.opts.MaxRetryDelay)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("aliyuncas-certificaterequest").
		For(&cmapi.CertificateRequest{}, builder.WithPredicates(requestPredicate()))
	return watchIssuers(b, r.issuerHandler(), r.opts).Complete(r)
}

// watchIssuers wakes a request controller's requests when their issuer
// appears or turns Ready.
func watchIssuers(b *builder.Builder, h handler.EventHandler, opts Options) *builder.Builder {
	return b.Watches(&v1alpha1.AliyunCASIssuer{}, h, builder.WithPredicates(issuerReadyPredicate())).
		Watches(&v1alpha1.AliyunCASClusterIssuer{}, h, builder.WithPredicates(issuerReadyPredicate())).
		WithOptions(controllerOptions(opts.MaxConcurrentReconciles))
}

// Reconcile moves one CertificateRequest one step on.
func (r *CertificateRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return quietWhenStopping(ctx)(r.reconcile(ctx, req))
}

// quietWhenStopping drops the error of a reconcile cut short by the
// manager stopping: the next manager resumes from the saved state.
func quietWhenStopping(ctx context.Context) func(ctrl.Result, error) (ctrl.Result, error) {
	return func(res ctrl.Result, err error) (ctrl.Result, error) {
		if err != nil && ctx.Err() != nil {
			return ctrl.Result{}, nil
		}
		return res, err
	}
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
	return getIssuer(ctx, r.Client, kind, cr.Namespace, cr.Spec.IssuerRef.Name)
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
	// state is the order state the controller trusts (settleState), then
	// the state the signer left (saved or learned).
	state signer.OrderState
	// store is the request's state store once the signer was called.
	store *requestStore
	// nextKey is the request's next-private-key Secret, once verified as
	// the one of the Certificate owning the request (DV flow).
	nextKey *corev1.Secret
	resolved
}

// resolved is the issuer and signer entry an attempt found; both nil
// until resolved.
type resolved struct {
	iss   v1alpha1.GenericIssuer
	entry *signerEntry
	// origin is what the request's order is placed with; drift, when the
	// issuer has changed since, says so (orderorigin.go).
	origin orderOrigin
	drift  *issuerDrift
}

// markIssuer marks the issuer not Ready when the verdict says so.
func (r *resolved) markIssuer(ctx context.Context, c client.Client, rec events.EventRecorder, v verdict) {
	if v.then != thenMarkIssuer {
		return
	}
	if err := markIssuerNotReady(ctx, c, rec, r.iss, v.issuerReason, v.issuerMessage); err != nil {
		ctrl.LoggerFrom(ctx).Error(scrubError(err, r.secrets()), "marking issuer not ready")
	}
}

// secrets are the credential values scrubbed from every message.
func (r *resolved) secrets() []string {
	if r.entry == nil {
		return nil
	}
	return r.entry.secrets
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
	if stateEmpty(a.state) {
		if err := a.takeHandover(ctx); err != nil {
			return a.decideAndApply(ctx, signer.Outcome{}, err)
		}
	}
	if err := a.resolveSigner(ctx, r.signers, a.state); err != nil {
		return a.decideAndApply(ctx, signer.Outcome{}, err)
	}
	if err := a.checkHeld(ctx, a.state); err != nil {
		return a.decideAndApply(ctx, signer.Outcome{}, err)
	}
	sreq := signRequest(a.cr, a.state)
	sreq.OrderTaken = func(ctx context.Context, id string) (bool, error) {
		return a.heldByOther(ctx, indexRequestOrder, id)
	}
	switch a.origin.api {
	case signer.OrderAPIInstance:
		a.prepareInstanceRequest(&sreq)
	case signer.OrderAPIDVOrder:
		if err := a.prepareDVRequest(ctx, &sreq); err != nil {
			return a.decideAndApply(ctx, signer.Outcome{}, err)
		}
	}
	ctrl.LoggerFrom(ctx).V(1).Info("signing", "orderID", sreq.State.OrderID, "instanceID", sreq.State.InstanceID)
	sctx, cancel := context.WithTimeout(ctx, r.opts.SignTimeout)
	a.store = &requestStore{client: r.Client, reader: r.APIReader, key: r.key, obj: a.cr, origin: a.origin, current: a.state}
	out, err := a.entry.signer.Sign(sctx, sreq, a.store)
	cancel()
	a.state = a.store.current
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
	in := a.signResult(out, err, a.retryDelay)
	in.nextKeySecret = a.cr.GetAnnotations()[cmapi.CertificateRequestPrivateKeyAnnotationKey]
	in.sinceOrdered = sinceOrdered(a.state, time.Now())
	if c := requestCondition(a.cr, cmapi.CertificateRequestConditionReady); c != nil {
		in.lastMessage = c.Message
	}
	return a.apply(ctx, a.noteDrift(decide(in)))
}

// signResult is what decide needs of a Sign on the resolved issuer; backoff
// is asked only for the errors that are retried.
func (r *resolved) signResult(out signer.Outcome, err error, backoff func() time.Duration) signResult {
	in := signResult{issuerName: r.iss.GetName(), outcome: out, err: err, secrets: r.secrets()}
	if r.entry != nil {
		in.poll = r.entry.poll
	}
	if err != nil {
		_, permanent := signer.AsPermanent(err)
		_, issuerErr := signer.AsIssuer(err)
		// A throttled call comes back when the account's limiter has room
		// (its RetryAfter), without growing this request's backoff: the
		// limiter is shared, so a backoff per request would leave the
		// allowed rate unused.
		if !permanent && !issuerErr && !signer.IsThrottled(err) {
			in.backoff = backoff()
		}
	}
	return in
}

// apply carries a verdict out: the status patch, its Event, the metrics
// and what follows.
func (a *attempt) apply(ctx context.Context, v verdict) (ctrl.Result, error) {
	r, cr := a.r, a.cr
	a.markIssuer(ctx, r.Client, r.Recorder, v)
	if v.pendingMetric {
		countPending(cr, a.iss)
	}
	// The status write carries the trusted state too (never a write of
	// its own), and is made for state the signer learned if for nothing
	// else: that state is written nowhere yet.
	mirrored, learned := a.state, a.store.holdsLearned()
	now := metav1.Now()
	write := func(cr *cmapi.CertificateRequest) bool {
		changed := setReady(cr, v.status, v.reason, v.message, now)
		if r.key.mirror(cr, mirrored) && learned {
			changed = true
		}
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
		return changed
	}
	base := cr.DeepCopy()
	if !v.quiet && write(cr) {
		if err := a.patchStatusOnce(ctx, base, write); err != nil {
			a.store.saveLearnedAfterLostWrite(ctx)
			return requeueOnWriteRace(err)
		}
		a.store.carried()
		if v.event != nil && !v.event.conditionSays {
			r.event(cr, a.iss, v.event.typ, v.event.reason, v.event.action, v.event.text)
		}
	} else if a.store.holdsLearned() && v.then != thenFinish && !v.learnedCanWait {
		// No status write to carry it (a pending step left unwritten).
		if err := a.store.saveLearned(ctx); err != nil {
			return requeueOnWriteRace(err)
		}
	}
	for _, w := range v.warnings {
		r.event(cr, a.iss, "Warning", signer.ReasonSubjectNotCarried, actionSign, scrub(w, a.secrets()))
	}
	if v.forget {
		r.backoff.Forget(a.key())
	}
	return follow(ctx, a, cr, a.iss, v, a.state, r.opts.HealthCheckInterval)
}

func (a *attempt) issuedNow() { observeIssued(a.cr, a.iss, time.Now()) }

func (a *attempt) finish(ctx context.Context) error {
	return finishRequest(ctx, a.r.Client, a.r.key, a.cr, a.state)
}

// patchStatusOnce writes the status of a.cr (changed from base by write).
// When the request changed meanwhile (an edit of its annotations, say),
// the same write is made once more onto what the API server holds, so that
// what this attempt did — an order placed, its state — reaches the status
// instead of being lost to a requeue.
func (a *attempt) patchStatusOnce(ctx context.Context, base *cmapi.CertificateRequest, write func(*cmapi.CertificateRequest) bool) error {
	err := a.r.patchStatus(ctx, a.cr, base)
	if !apierrors.IsConflict(err) {
		return err
	}
	fresh := &cmapi.CertificateRequest{}
	if err := a.r.APIReader.Get(ctx, a.key(), fresh); err != nil {
		return err
	}
	freshBase := fresh.DeepCopy()
	write(fresh)
	if err := a.r.patchStatus(ctx, fresh, freshBase); err != nil {
		return err
	}
	// Go on from what the API server holds; if its annotations no longer
	// hold the trusted state, the next attempt takes it from the status.
	*a.cr = *fresh
	return nil
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
