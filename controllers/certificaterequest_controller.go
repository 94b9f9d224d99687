package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
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
	eventOrderCancelled    = "OrderCancelled"
	eventOrderNotCancelled = "OrderNotCancelled"

	// actionRetry is the Event action of transient errors (Warning).
	actionRetry = "Retry"
)

// CertificateRequestReconciler signs approved CertificateRequests whose
// issuerRef names an AliyunCASIssuer or AliyunCASClusterIssuer.
type CertificateRequestReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder

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
	switch {
	case cr.DeletionTimestamp != nil, isTerminal(cr):
		unmarkPending(cr)
		return r.release(ctx, cr)
	case isDenied(cr):
		return r.deny(ctx, cr)
	case !isApproved(cr):
		// Never sign anything unapproved; the approval is an update that
		// wakes this request again. cert-manager's approver usually answers
		// within milliseconds: only a request still unapproved after
		// approvalGrace gets a "waiting for approval" condition, which
		// saves a status write (and a conflict with the approval) per
		// certificate.
		if age := time.Since(cr.CreationTimestamp.Time); age < approvalGrace {
			return ctrl.Result{RequeueAfter: approvalGrace - age}, nil
		}
		if err := r.setPending(ctx, cr, msgWaitingForApproval, "", ""); err != nil {
			return requeueOnWriteRace(err)
		}
		return ctrl.Result{}, nil
	}
	return r.sign(ctx, cr)
}

// sign resolves the issuer and advances the order by one step.
func (r *CertificateRequestReconciler) sign(ctx context.Context, cr *cmapi.CertificateRequest) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	iss, err := r.getIssuer(ctx, cr)
	if err != nil {
		if apierrors.IsNotFound(err) {
			kind, _ := requestIssuerKind(cr)
			msg := fmt.Sprintf("issuer %s %s not found", kind, cr.Spec.IssuerRef.Name)
			return r.waitForIssuer(ctx, cr, msg)
		}
		return ctrl.Result{}, err
	}
	if !v1alpha1.IsReady(iss) {
		return r.waitForIssuer(ctx, cr, fmt.Sprintf("issuer %s not ready: %s", iss.GetName(), issuerReadyMessage(iss)))
	}
	entry, err := r.signers.get(ctx, iss)
	if err != nil {
		return r.handleError(ctx, cr, iss, nil, err)
	}

	store := &requestStore{client: r.Client, reader: r.APIReader, cr: cr}
	sreq := signRequest(cr)
	switch v1alpha1.OrderAPI(orDefault(string(iss.GetSpec().OrderAPI), string(v1alpha1.DefaultOrderAPI))) {
	case v1alpha1.OrderAPIInstance:
		r.prepareInstanceRequest(cr, &sreq)
	case v1alpha1.OrderAPIDVOrder:
		if err := r.prepareDVRequest(ctx, cr, &sreq); err != nil {
			return r.handleError(ctx, cr, iss, entry.secrets, err)
		}
	}
	log.V(1).Info("signing", "orderID", sreq.State.OrderID, "instanceID", sreq.State.InstanceID)
	sctx, cancel := context.WithTimeout(ctx, r.opts.SignTimeout)
	res, err := entry.signer.Sign(sctx, sreq, store)
	cancel()
	if err != nil {
		return r.handleError(ctx, cr, iss, entry.secrets, err)
	}
	switch res.Kind {
	case signer.OutcomeAdoptKey:
		return r.adoptKey(ctx, cr, iss, entry.secrets, res)
	case signer.OutcomePending:
		return r.pending(ctx, cr, iss, entry.secrets, res.Pending)
	case signer.OutcomeIssued:
		return r.issued(ctx, cr, iss, entry.secrets, res)
	}
	return r.handleError(ctx, cr, iss, entry.secrets, signer.Transient("NoResult", 0, errors.New("the signer returned neither a certificate nor a pending order")))
}

// signRequest is the plain request the signer sees.
func signRequest(cr *cmapi.CertificateRequest) signer.Request {
	req := signer.Request{
		Name:                 cr.Namespace + "/" + cr.Name,
		CSRPEM:               cr.Spec.Request,
		IsCA:                 cr.Spec.IsCA,
		NextPrivateKeySecret: cr.GetAnnotations()[cmapi.CertificateRequestPrivateKeyAnnotationKey],
		State:                loadState(cr),
	}
	if cr.Spec.Duration != nil {
		req.Duration = cr.Spec.Duration.Duration
	}
	for _, u := range cr.Spec.Usages {
		req.Usages = append(req.Usages, string(u))
	}
	return req
}

// pending records what the order waits for, tells people once per change,
// and looks again when the signer says.
func (r *CertificateRequestReconciler) pending(ctx context.Context, cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, secrets []string, p *signer.Pending) (ctrl.Result, error) {
	r.backoff.Forget(client.ObjectKeyFromObject(cr))
	msg := scrub(p.Message, secrets)
	if msg == "" {
		msg = "order pending"
		if p.Reason != "" {
			msg = "order pending: " + p.Reason
		}
	}
	markPending(cr, iss)
	reason := eventReason(p.Reason, "OrderPending")
	if err := r.setPending(ctx, cr, msg, reason, "Sign", iss); err != nil {
		return requeueOnWriteRace(err)
	}
	after := p.RetryAfter
	if after <= 0 {
		after = defaultPollInterval
		if pi := iss.GetSpec().PollInterval; pi != nil && pi.Duration > 0 {
			after = pi.Duration
		}
	}
	// Never a hot loop, whatever the signer says.
	if after < time.Second {
		after = time.Second
	}
	return ctrl.Result{RequeueAfter: after}, nil
}

// issued writes the chain and marks the request Ready.
func (r *CertificateRequestReconciler) issued(ctx context.Context, cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, secrets []string, res signer.Outcome) (ctrl.Result, error) {
	key := client.ObjectKeyFromObject(cr)
	base := cr.DeepCopy()
	cert := res.Certificate
	cr.Status.Certificate = cert.Chain
	if len(cert.CA) > 0 {
		cr.Status.CA = cert.CA
	}
	st := loadState(cr)
	if res.State != nil {
		st = *res.State
	}
	// Said once: the condition and the Event carry the same sentence.
	msg := cert.Summary()
	setReady(cr, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, msg, metav1.Now())
	if err := r.patchStatus(ctx, cr, base); err != nil {
		return requeueOnWriteRace(err)
	}
	r.backoff.Forget(key)
	observeIssued(cr, iss, time.Now())
	// One Event for the issuance and its notes: one write per certificate.
	note := msg
	if len(res.Notes) > 0 {
		note += "; " + scrub(strings.Join(res.Notes, "; "), secrets)
	}
	r.event(cr, iss, "Normal", eventIssued, "Sign", note)
	ctrl.LoggerFrom(ctx).Info("certificate issued", "orderID", st.OrderID)
	if len(st.ValidationRecords) > 0 {
		// Records whose removal failed: the release retries it.
		return r.release(ctx, cr)
	}
	return ctrl.Result{}, finishRequest(ctx, r.Client, cr, res.State)
}

// handleError sorts a failure into its class.
func (r *CertificateRequestReconciler) handleError(ctx context.Context, cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, secrets []string, err error) (ctrl.Result, error) {
	if ctx.Err() != nil {
		// Shutting down: the next manager resumes from the saved state.
		return ctrl.Result{}, nil
	}
	if pe, ok := signer.AsPermanent(err); ok {
		return r.fail(ctx, cr, iss, eventReason(pe.Reason, "Failed"), scrub(pe.Err.Error(), secrets))
	}
	if ie, ok := signer.AsIssuer(err); ok {
		reason := conditionReason(ie.Reason, v1alpha1.ReasonInvalidConfig)
		msg := scrub(ie.Err.Error(), secrets)
		if perr := markIssuerNotReady(ctx, r.Client, r.Recorder, iss, reason, msg); perr != nil {
			ctrl.LoggerFrom(ctx).Error(scrubError(perr, secrets), "marking issuer not ready")
		}
		return r.waitForIssuer(ctx, cr, fmt.Sprintf("issuer %s not ready: %s", iss.GetName(), msg))
	}
	return r.retry(ctx, cr, iss, secrets, err)
}

// retry handles a transient error: the request waits, never fails.
func (r *CertificateRequestReconciler) retry(ctx context.Context, cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, secrets []string, err error) (ctrl.Result, error) {
	delay := r.backoff.When(client.ObjectKeyFromObject(cr))
	reason := eventRetrying
	var te *signer.TransientError
	if errors.As(err, &te) {
		if te.RetryAfter > delay {
			delay = te.RetryAfter
		}
		reason = eventReason(te.Reason, eventRetrying)
	}
	msg := scrub(err.Error(), secrets)
	ctrl.LoggerFrom(ctx).Info("temporary error, will retry", "reason", reason, "error", msg, "retryAfter", delay)
	// Messages carry request ids and change at every attempt: an Event
	// only when the kind of trouble changes.
	prefix := fmt.Sprintf("temporary error, will retry: %s: ", reason)
	evReason := reason
	if c := requestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil && strings.HasPrefix(c.Message, prefix) {
		evReason = ""
	}
	markPending(cr, iss)
	if perr := r.setPending(ctx, cr, prefix+msg, evReason, actionRetry, iss); perr != nil {
		return requeueOnWriteRace(perr)
	}
	return ctrl.Result{RequeueAfter: delay}, nil
}

// fail marks the request failed for good; cert-manager backs off and
// retries the Certificate with a new request.
func (r *CertificateRequestReconciler) fail(ctx context.Context, cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, reason, detail string) (ctrl.Result, error) {
	base := cr.DeepCopy()
	now := metav1.Now()
	msg := reason + ": " + detail
	setReady(cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonFailed, msg, now)
	if cr.Status.FailureTime == nil {
		cr.Status.FailureTime = &now
	}
	if err := r.patchStatus(ctx, cr, base); err != nil {
		return requeueOnWriteRace(err)
	}
	r.backoff.Forget(client.ObjectKeyFromObject(cr))
	observeFailed(cr, iss, reason)
	r.event(cr, iss, "Warning", reason, "Sign", detail)
	ctrl.LoggerFrom(ctx).Info("certificate request failed", "reason", reason, "message", detail)
	return r.release(ctx, cr)
}

// deny marks a denied request terminal and gives back what it holds.
func (r *CertificateRequestReconciler) deny(ctx context.Context, cr *cmapi.CertificateRequest) (ctrl.Result, error) {
	base := cr.DeepCopy()
	now := metav1.Now()
	msg := msgDenied
	if c := requestCondition(cr, cmapi.CertificateRequestConditionDenied); c != nil && c.Message != "" {
		msg += ": " + c.Message
	}
	setReady(cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonDenied, msg, now)
	unmarkPending(cr)
	if cr.Status.FailureTime == nil {
		cr.Status.FailureTime = &now
	}
	if err := r.patchStatus(ctx, cr, base); err != nil {
		return requeueOnWriteRace(err)
	}
	return r.release(ctx, cr)
}

// waitForIssuer leaves the request Pending until its issuer is Ready; the
// issuer becoming Ready wakes it, the requeue is a safety net.
func (r *CertificateRequestReconciler) waitForIssuer(ctx context.Context, cr *cmapi.CertificateRequest, msg string) (ctrl.Result, error) {
	if err := r.setPending(ctx, cr, msg, eventIssuerNotReady, "Sign", nil); err != nil {
		return requeueOnWriteRace(err)
	}
	return ctrl.Result{RequeueAfter: r.opts.HealthCheckInterval}, nil
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
