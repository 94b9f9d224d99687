package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=certificatesigningrequests/status,verbs=update;patch
// +kubebuilder:rbac:groups=certificates.k8s.io,resources=signers,verbs=sign,resourceNames=aliyuncasclusterissuers.aliyun-cas-issuer.io/*;aliyuncasissuers.aliyun-cas-issuer.io/*

// CertificateSigningRequestReconciler signs approved Kubernetes
// CertificateSigningRequests (certificates.k8s.io/v1) whose signer name
// names an AliyunCASClusterIssuer or AliyunCASIssuer, with the same
// signers, decisions and order state rules as CertificateRequests. The
// order state lives in the CSR's annotations (patch on the CSR, which is
// why the controller may patch CSRs).
type CertificateSigningRequestReconciler struct {
	requestDeps
	// said keeps what each CSR last told people (CSRs have no condition
	// for "pending"): an Event per change, not per poll.
	said sync.Map // name → saidNote
}

type saidNote struct {
	uid  types.UID
	text string
}

// indexCSRIssuer indexes CSRs by the issuerKey their signer name names.
const indexCSRIssuer = "aliyun-cas-issuer.io/signer"

// SetupWithManager watches the CSRs for this issuer's signer names and the
// issuers becoming Ready (to wake the CSRs waiting for them).
func (r *CertificateSigningRequestReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](r.opts.MinRetryDelay, r.opts.MaxRetryDelay)
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &certificatesv1.CertificateSigningRequest{}, indexCSRIssuer, func(o client.Object) []string {
		if csr, ok := o.(*certificatesv1.CertificateSigningRequest); ok {
			if ref, ok := parseSignerName(csr.Spec.SignerName); ok {
				return []string{ref.key()}
			}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing CertificateSigningRequests by signer: %w", err)
	}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &certificatesv1.CertificateSigningRequest{}, indexRequestOrder, indexOrder); err != nil {
		return fmt.Errorf("indexing CertificateSigningRequests by CAS order: %w", err)
	}
	b := ctrl.NewControllerManagedBy(mgr).
		Named("aliyuncas-certificatesigningrequest").
		For(&certificatesv1.CertificateSigningRequest{}, builder.WithPredicates(csrPredicate()))
	return watchIssuers(b, r.issuerHandler(), r.opts).Complete(r)
}

// Reconcile moves one CSR one step on.
func (r *CertificateSigningRequestReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return quietWhenStopping(ctx)(r.reconcile(ctx, req))
}

func (r *CertificateSigningRequestReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cached := &certificatesv1.CertificateSigningRequest{}
	if err := r.Client.Get(ctx, req.NamespacedName, cached); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.Name)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	ref, ours := parseSignerName(cached.Spec.SignerName)
	if !ours {
		return ctrl.Result{}, nil
	}
	holds := controllerutil.ContainsFinalizer(cached, v1alpha1.FinalizerCancelOrder)
	if (cached.DeletionTimestamp != nil || csrFinished(cached)) && !holds {
		r.forget(req.Name)
		return ctrl.Result{}, nil
	}
	// The order state is read from the API server, never from the cache,
	// or an order could be placed twice.
	csr := &certificatesv1.CertificateSigningRequest{}
	if err := r.APIReader.Get(ctx, req.NamespacedName, csr); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	a := &csrAttempt{r: r, csr: csr, ref: ref}
	if err := a.settleState(ctx); err != nil {
		return requeueOnWriteRace(err)
	}
	switch {
	case csr.DeletionTimestamp != nil, csrFinished(csr):
		return a.release(ctx)
	case !csrApproved(csr):
		// Never sign anything unapproved; the approval is an update that
		// wakes the CSR again.
		return ctrl.Result{}, nil
	}
	return a.sign(ctx)
}

// forget drops what the reconciler remembers of a CSR.
func (r *CertificateSigningRequestReconciler) forget(name string) {
	r.backoff.Forget(types.NamespacedName{Name: name})
	r.said.Delete(name)
}

// changed records text as the last thing the CSR told people, and reports
// whether it is new.
func (r *CertificateSigningRequestReconciler) changed(csr *certificatesv1.CertificateSigningRequest, text string) bool {
	prev, ok := r.said.Swap(csr.Name, saidNote{uid: csr.UID, text: text})
	return !ok || prev.(saidNote) != saidNote{uid: csr.UID, text: text}
}

// lastSaid is what the CSR last told people.
func (r *CertificateSigningRequestReconciler) lastSaid(csr *certificatesv1.CertificateSigningRequest) string {
	if v, ok := r.said.Load(csr.Name); ok && v.(saidNote).uid == csr.UID {
		return v.(saidNote).text
	}
	return ""
}

// retryAfterIssuer is how often a CSR waiting for its issuer looks again
// (the issuer becoming Ready wakes it sooner).
func (r *CertificateSigningRequestReconciler) retryAfterIssuer() time.Duration {
	return r.opts.HealthCheckInterval
}
