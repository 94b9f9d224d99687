package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// +kubebuilder:rbac:groups=aliyun-cas-issuer.io,resources=aliyuncasissuers;aliyuncasclusterissuers,verbs=get;list;watch
// +kubebuilder:rbac:groups=aliyun-cas-issuer.io,resources=aliyuncasissuers/status;aliyuncasclusterissuers/status,verbs=get;patch
// Secrets are read in the cluster resource namespace and the namespaces the
// chart grants (rbac.issuerNamespaces): those grants are namespaced, so no
// cluster-wide marker here.

// Event reasons of issuers (besides the failure reasons).
const eventChecked = v1alpha1.ReasonChecked

// IssuerReconciler keeps one issuer kind's Ready condition honest: Ready is
// True only after a real API call with the issuer's credentials succeeded.
// It checks when the spec or the Secret changes, and every
// Options.HealthCheckInterval.
type IssuerReconciler struct {
	// Kind is AliyunCASIssuer or AliyunCASClusterIssuer.
	Kind     string
	Client   client.Client
	Recorder events.EventRecorder

	signers *signerSource
	opts    Options
	backoff workqueue.TypedRateLimiter[types.NamespacedName]
}

// SetupWithManager watches the issuers of r.Kind (spec changes only: status
// writes do not trigger a check) and the metadata of Secrets.
func (r *IssuerReconciler) SetupWithManager(mgr ctrl.Manager) error {
	obj := v1alpha1.NewIssuer(r.Kind)
	if obj == nil {
		return fmt.Errorf("unknown issuer kind %q", r.Kind)
	}
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](
		max(r.opts.MinRetryDelay, 5*time.Second), r.opts.HealthCheckInterval)
	name := "aliyuncasissuer"
	if r.Kind == clusterIssuerKind {
		name = "aliyuncasclusterissuer"
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named(name).
		For(obj, builder.WithPredicates(predicate.GenerationChangedPredicate{})).
		WatchesMetadata(&corev1.Secret{}, r.secretHandler()).
		WithOptions(controllerOptions(r.opts.MaxConcurrentReconciles)).
		Complete(r)
}

// Reconcile checks one issuer and records the result in its status.
func (r *IssuerReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if err != nil && ctx.Err() != nil {
		return ctrl.Result{}, nil // shutting down
	}
	return res, err
}

func (r *IssuerReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	iss := v1alpha1.NewIssuer(r.Kind)
	if err := r.Client.Get(ctx, req.NamespacedName, iss); err != nil {
		if apierrors.IsNotFound(err) {
			r.signers.forget(r.Kind, req.Namespace, req.Name)
			forgetIssuerMetrics(r.Kind, req.Namespace, req.Name)
			r.backoff.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	base, _ := iss.DeepCopyObject().(v1alpha1.GenericIssuer)

	var health signer.Health
	var secrets []string
	entry, err := r.signers.get(ctx, iss)
	now := metav1.Now()
	if err == nil {
		secrets = entry.secrets
		cctx, cancel := context.WithTimeout(ctx, r.opts.SignTimeout)
		health, err = entry.signer.Check(cctx)
		cancel()
		iss.GetStatus().LastCheckTime = &now
	}
	if err != nil && ctx.Err() != nil {
		return ctrl.Result{}, nil // shutting down
	}
	st := iss.GetStatus()
	st.ObservedGeneration = iss.GetGeneration()

	if err != nil {
		reason, msg := checkFailure(err, secrets)
		_, newReason := setIssuerReady(iss, metav1.ConditionFalse, reason, msg)
		if perr := patchIssuerStatus(ctx, r.Client, iss, base); perr != nil {
			return requeueOnWriteRace(perr)
		}
		if newReason {
			issuerEvent(r.Recorder, iss, "Warning", reason, "Check", msg)
		}
		delay := min(r.backoff.When(req.NamespacedName), r.opts.HealthCheckInterval)
		log.Info("issuer check failed", "reason", reason, "message", msg, "retryAfter", delay)
		return ctrl.Result{RequeueAfter: delay}, nil
	}
	r.backoff.Forget(req.NamespacedName)

	st.PackageState, st.UsableInstances, st.InFlightInstances = nil, nil, nil
	if q := health.Quota; q != nil {
		st.PackageState = &v1alpha1.PackageState{
			Total:     int32(q.Total),
			Used:      int32(q.Used),
			Issued:    int32(q.Issued),
			Remaining: int32(max(q.Total-q.Used, 0)),
		}
	}
	if n := health.UsableInstances; n != nil {
		v := int32(*n)
		st.UsableInstances = &v
	}
	if n := health.InFlightInstances; n != nil {
		v := int32(*n)
		st.InFlightInstances = &v
	}
	msg := scrub(health.Summary, secrets)
	wasReady := v1alpha1.IsReady(base)
	setIssuerReady(iss, metav1.ConditionTrue, v1alpha1.ReasonChecked, msg)
	if err := patchIssuerStatus(ctx, r.Client, iss, base); err != nil {
		return requeueOnWriteRace(err)
	}
	observeIssuerHealth(iss, health)
	if !wasReady {
		issuerEvent(r.Recorder, iss, "Normal", eventChecked, "Check", msg)
		log.Info("issuer ready", "message", msg)
	}
	return ctrl.Result{RequeueAfter: r.opts.HealthCheckInterval}, nil
}

// checkFailure is the condition reason and message of a failed check.
func checkFailure(err error, secrets []string) (reason, msg string) {
	reason = v1alpha1.ReasonCheckFailed
	inner := err
	if ie, ok := signer.AsIssuer(err); ok {
		reason, inner = ie.Reason, ie.Err
	} else if pe, ok := signer.AsPermanent(err); ok {
		reason, inner = pe.Reason, pe.Err
	} else if te, ok := signer.AsTransient(err); ok {
		reason, inner = te.Reason, te.Err
	}
	return conditionReason(reason, v1alpha1.ReasonCheckFailed), scrub(inner.Error(), secrets)
}
