package controllers

import (
	"context"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
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
