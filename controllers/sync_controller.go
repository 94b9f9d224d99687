package controllers

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
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
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// +kubebuilder:rbac:groups=aliyun-cas-issuer.io,resources=aliyuncascertificatesyncs,verbs=get;list;watch;patch
// +kubebuilder:rbac:groups=aliyun-cas-issuer.io,resources=aliyuncascertificatesyncs/status,verbs=patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get
// +kubebuilder:rbac:groups="",resources=services,verbs=get;patch

// indexSyncSecret indexes syncs by spec.secretName.
const indexSyncSecret = "aliyun-cas-issuer.io/sync-secret"

// SyncReconciler keeps each AliyunCASCertificateSync's Secret uploaded to
// CAS: it uploads a new certificate once (found by name after a lost
// answer or a restart, never uploaded twice), points the targets at it,
// deletes replaced uploads after retainPrevious, and checks now and then
// that the current upload still exists.
type SyncReconciler struct {
	Client    client.Client
	APIReader client.Reader
	Recorder  events.EventRecorder

	uploaders *uploaderSource
	opts      Options
	backoff   workqueue.TypedRateLimiter[types.NamespacedName]

	mu sync.Mutex
	// nextCheck is when each sync's current upload is checked again. It
	// is kept in memory: after a restart the checks are spread over one
	// interval rather than written to the API server after each call.
	nextCheck map[types.UID]time.Time
}

// SetupWithManager watches syncs (spec changes and deletion) and the
// metadata of Secrets (where the cache has them), mapped to the syncs that
// name them.
func (r *SyncReconciler) SetupWithManager(mgr ctrl.Manager) error {
	r.backoff = workqueue.NewTypedItemExponentialFailureRateLimiter[types.NamespacedName](r.opts.MinRetryDelay, r.opts.MaxRetryDelay)
	r.nextCheck = map[types.UID]time.Time{}
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &v1alpha1.AliyunCASCertificateSync{}, indexSyncSecret, func(o client.Object) []string {
		if s, ok := o.(*v1alpha1.AliyunCASCertificateSync); ok && s.Spec.SecretName != "" {
			return []string{s.Spec.SecretName}
		}
		return nil
	}); err != nil {
		return fmt.Errorf("indexing AliyunCASCertificateSyncs by Secret: %w", err)
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("aliyuncascertificatesync").
		For(&v1alpha1.AliyunCASCertificateSync{}, builder.WithPredicates(syncPredicate())).
		WatchesMetadata(&corev1.Secret{}, r.secretHandler()).
		WithOptions(controllerOptions(r.opts.MaxConcurrentReconciles)).
		Complete(r)
}

// syncPredicate passes new syncs, spec changes and deletions; the
// controller's own status writes do not wake it.
func syncPredicate() predicate.Predicate {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return true },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return true },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld.GetGeneration() != e.ObjectNew.GetGeneration() ||
				(e.ObjectOld.GetDeletionTimestamp() == nil) != (e.ObjectNew.GetDeletionTimestamp() == nil)
		},
	}
}

// secretHandler maps a Secret to the syncs of its namespace that name it.
func (r *SyncReconciler) secretHandler() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, o client.Object) []reconcile.Request {
		var list v1alpha1.AliyunCASCertificateSyncList
		if err := r.Client.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{indexSyncSecret: o.GetName()}); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	})
}

// Reconcile brings one sync up to date.
func (r *SyncReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	res, err := r.reconcile(ctx, req)
	if err != nil && ctx.Err() != nil {
		return ctrl.Result{}, nil // shutting down
	}
	if apierrors.IsConflict(err) {
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	}
	return res, err
}

func (r *SyncReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	s := &v1alpha1.AliyunCASCertificateSync{}
	if err := r.Client.Get(ctx, req.NamespacedName, s); err != nil {
		if apierrors.IsNotFound(err) {
			r.backoff.Forget(req.NamespacedName)
		}
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	if s.DeletionTimestamp != nil {
		return r.finalize(ctx, s)
	}
	if !controllerutil.ContainsFinalizer(s, v1alpha1.FinalizerDeleteUploads) {
		// Before anything can be uploaded: the finalizer is how the
		// uploads get cleaned up.
		before := s.DeepCopy()
		controllerutil.AddFinalizer(s, v1alpha1.FinalizerDeleteUploads)
		if err := r.Client.Patch(ctx, s, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
			return ctrl.Result{}, err
		}
	}
	base := s.DeepCopy()
	now := time.Now()
	api := string(orDefaultAPI(s.Spec.API))

	cert, err := r.readSyncSecret(ctx, s, now)
	if err != nil {
		return r.fail(ctx, s, base, err, nil, false)
	}
	name, err := signer.UploadName(namePrefix(s), cert.Fingerprint)
	if err != nil {
		return r.fail(ctx, s, base, err, nil, false)
	}
	entry, err := r.uploaders.get(ctx, s, api)
	if err != nil {
		if ie, ok := signer.AsIssuer(err); ok {
			err = signer.Issuer(issuerConfigFailure(ie.Reason), ie.Err)
		} else if te, ok := signer.AsTransient(err); ok {
			err = signer.Transient(issuerConfigFailure(te.Reason), te.RetryAfter, te.Err)
		}
		return r.fail(ctx, s, base, err, nil, false)
	}
	up, secrets := entry.uploader, entry.secrets

	current := s.Status.CertID != "" && s.Status.Fingerprint == cert.Fingerprint &&
		string(orDefaultAPI(s.Status.API)) == api
	if current && r.checkDue(s.UID, now) {
		ok, err := up.Exists(ctx, api, s.Status.CertID)
		if err != nil {
			return r.fail(ctx, s, base, err, secrets, current)
		}
		r.scheduleCheck(s.UID, now)
		if !ok {
			r.event(s, corev1.EventTypeWarning, eventUploadMissing, "Check",
				fmt.Sprintf("CAS certificate %s (%s) no longer exists: uploading the certificate again", s.Status.CertID, s.Status.CertName))
			s.Status.CertID, s.Status.CertIdentifier = "", ""
			current = false
		}
	}
	if !current {
		u, err := up.Ensure(ctx, name, cert, s.Spec.Tags)
		if err != nil {
			return r.fail(ctx, s, base, err, secrets, false)
		}
		r.recordUpload(s, u, cert, api, up.Region(), now)
		r.scheduleCheck(s.UID, now)
		reason, verb := ReasonUploaded, "uploaded"
		if u.Found {
			reason, verb = eventUploadFound, "found already uploaded"
		}
		r.event(s, corev1.EventTypeNormal, reason, "Upload", fmt.Sprintf("certificate %s %s as CAS certificate %s (%s), expires %s",
			cert.Fingerprint[:12], verb, u.CertID, u.Name, cert.Leaf.NotAfter.UTC().Format(time.RFC3339)))
	}

	patched, err := r.updateTargets(ctx, s, s.Status.CertIdentifier)
	for _, svc := range patched {
		r.event(s, corev1.EventTypeNormal, eventTargetUpdated, "Target", fmt.Sprintf("Service %s now uses %s", svc, s.Status.CertIdentifier))
	}
	if err != nil {
		return r.fail(ctx, s, base, err, secrets, false)
	}
	nextDelete, err := r.deletePrevious(ctx, s, up, now, false)
	if err != nil {
		return r.fail(ctx, s, base, err, secrets, true)
	}

	setSyncReady(s, metav1.ConditionTrue, ReasonUploaded, fmt.Sprintf("CAS certificate %s (%s) holds certificate %s of Secret %s, expires %s",
		s.Status.CertID, s.Status.CertIdentifier, cert.Fingerprint[:12], s.Spec.SecretName, cert.Leaf.NotAfter.UTC().Format(time.RFC3339)))
	if err := r.patchSyncStatus(ctx, s, base); err != nil {
		return ctrl.Result{}, err
	}
	r.backoff.Forget(req.NamespacedName)
	return ctrl.Result{RequeueAfter: r.nextWake(s.UID, now, nextDelete)}, nil
}

// recordUpload makes u the current upload; the one it replaces waits
// retainPrevious before it is deleted.
func (r *SyncReconciler) recordUpload(s *v1alpha1.AliyunCASCertificateSync, u signer.Upload, cert *signer.CheckedCertificate, api, region string, now time.Time) {
	st := &s.Status
	if st.CertID != "" && st.CertID != u.CertID {
		retain := DefaultRetainPrevious
		if s.Spec.RetainPrevious != nil {
			retain = s.Spec.RetainPrevious.Duration
		}
		// The API server keeps whole seconds: round up, never shorten
		// the time listeners have to switch.
		deleteAfter := now.Add(retain)
		if t := deleteAfter.Truncate(time.Second); !t.Equal(deleteAfter) {
			deleteAfter = t.Add(time.Second)
		}
		st.Previous = append(st.Previous, v1alpha1.PreviousUpload{
			CertID: st.CertID, API: orDefaultAPI(st.API), DeleteAfter: metav1.NewTime(deleteAfter),
		})
	}
	notAfter := metav1.NewTime(cert.Leaf.NotAfter)
	uploaded := metav1.NewTime(now)
	st.CertID = u.CertID
	st.CertIdentifier = signer.CertIdentifier(u.CertID, region)
	st.CertName = u.Name
	st.API = v1alpha1.UploadAPI(api)
	st.Fingerprint = cert.Fingerprint
	st.NotAfter = &notAfter
	st.UploadedAt = &uploaded
}

func orDefaultAPI(a v1alpha1.UploadAPI) v1alpha1.UploadAPI {
	if a == "" {
		return v1alpha1.DefaultUploadAPI
	}
	return a
}

// fail records a failure: Ready=False with the error's reason, except that a
// transient error does not take Ready away from a current upload that is
// fine (keepReady). Transient errors are retried with backoff; the others
// when the spec changes, the Secret changes, or at the next poll.
func (r *SyncReconciler) fail(ctx context.Context, s, base *v1alpha1.AliyunCASCertificateSync, err error, secrets []string, keepReady bool) (ctrl.Result, error) {
	log := ctrl.LoggerFrom(ctx)
	key := client.ObjectKeyFromObject(s)
	reason, msg, transient := syncFailure(err, secrets)
	if !(transient && keepReady) {
		if setSyncReady(s, metav1.ConditionFalse, reason, msg) {
			r.event(s, corev1.EventTypeWarning, reason, "Sync", msg)
		}
	}
	if perr := r.patchSyncStatus(ctx, s, base); perr != nil {
		return ctrl.Result{}, perr
	}
	delay := r.opts.Sync.SecretPollInterval
	if transient {
		delay = min(r.backoff.When(key), delay)
		if te, ok := signer.AsTransient(err); ok && te.RetryAfter > delay {
			delay = te.RetryAfter
		}
	}
	log.Info("sync not done", "reason", reason, "message", msg, "retryAfter", delay)
	return ctrl.Result{RequeueAfter: delay}, nil
}

func (r *SyncReconciler) event(s *v1alpha1.AliyunCASCertificateSync, typ, reason, action, note string) {
	r.Recorder.Eventf(s, nil, typ, reason, action, "%s", truncate(note, maxMessage))
}

// checkDue reports whether the current upload of a sync should be checked
// now. A sync seen for the first time (e.g. after a restart) gets a check
// at a random moment within one interval.
func (r *SyncReconciler) checkDue(uid types.UID, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	next, ok := r.nextCheck[uid]
	if !ok {
		iv := r.opts.Sync.CheckInterval
		r.nextCheck[uid] = now.Add(rand.N(iv) + time.Millisecond)
		return false
	}
	return !now.Before(next)
}

func (r *SyncReconciler) scheduleCheck(uid types.UID, now time.Time) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextCheck[uid] = now.Add(r.opts.Sync.CheckInterval)
}

func (r *SyncReconciler) forgetCheck(uid types.UID) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.nextCheck, uid)
}

// nextWake is the soonest of the Secret poll, the next check and the next
// deletion of a replaced upload.
func (r *SyncReconciler) nextWake(uid types.UID, now, nextDelete time.Time) time.Duration {
	d := r.opts.Sync.SecretPollInterval
	r.mu.Lock()
	if next, ok := r.nextCheck[uid]; ok {
		d = min(d, next.Sub(now))
	}
	r.mu.Unlock()
	if !nextDelete.IsZero() {
		d = min(d, nextDelete.Sub(now))
	}
	return max(d, 100*time.Millisecond)
}
