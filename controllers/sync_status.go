package controllers

import (
	"context"
	"errors"

	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Reasons and Event reasons of syncs.
const (
	// ReasonUploaded: Ready=True, the Secret's certificate is in CAS.
	ReasonUploaded = "Uploaded"
	// ReasonSyncFailed: a failure the signer did not classify.
	ReasonSyncFailed = "SyncFailed"
	// eventUploadFound: an upload made earlier (its answer lost, or before
	// a restart) was found by name instead of uploading again.
	eventUploadFound = "UploadFound"
	// eventUploadMissing: the current upload was deleted from CAS by
	// someone else; it is uploaded again.
	eventUploadMissing = "UploadMissing"
	// eventUploadDeleted: a replaced upload was deleted after
	// retainPrevious (or with the sync).
	eventUploadDeleted = "UploadDeleted"
	// eventTargetUpdated: a target now names the current upload.
	eventTargetUpdated = "TargetUpdated"
)

// issuerConfigPrefix starts the reason of an issuer configuration problem
// met by a sync (IssuerSecretNotFound, IssuerSecretKeyMissing, ...): the
// same words as on the issuer, told apart from the sync's own Secret.
const issuerConfigPrefix = "Issuer"

// syncFailure is the condition reason and (scrubbed) message of an error,
// and whether it is transient.
func syncFailure(err error, secrets []string) (reason, msg string, transient bool) {
	msg = scrub(err.Error(), secrets)
	var te *signer.TransientError
	switch {
	case errors.As(err, &te):
		return conditionReason(te.Reason, ReasonSyncFailed), msg, true
	}
	if pe, ok := signer.AsPermanent(err); ok {
		return conditionReason(pe.Reason, ReasonSyncFailed), msg, false
	}
	if ie, ok := signer.AsIssuer(err); ok {
		return conditionReason(ie.Reason, ReasonSyncFailed), msg, false
	}
	// Unclassified errors (the API server, a cancelled context) are retried.
	return ReasonSyncFailed, msg, true
}

// issuerConfigFailure prefixes the reason of a configuration problem of the
// issuer (its Secret, its spec) so that it is not mistaken for the sync's.
func issuerConfigFailure(reason string) string {
	switch reason {
	case v1alpha1.ReasonSecretNotFound, v1alpha1.ReasonSecretKeyMissing, signer.ReasonInvalidConfig, ReasonAmbientNotAllowed, reasonSecretUnavailable:
		return issuerConfigPrefix + reason
	}
	return reason
}

// setSyncReady sets the Ready condition for the sync's generation and
// reports whether its status or reason changed (worth an Event).
func setSyncReady(s *v1alpha1.AliyunCASCertificateSync, status metav1.ConditionStatus, reason, msg string) bool {
	reason = conditionReason(reason, ReasonSyncFailed)
	old := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
	newReason := old == nil || old.Status != status || old.Reason != reason
	meta.SetStatusCondition(&s.Status.Conditions, metav1.Condition{
		Type:               v1alpha1.ConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            truncate(msg, maxMessage),
		ObservedGeneration: s.Generation,
	})
	s.Status.ObservedGeneration = s.Generation
	return newReason
}

// patchSyncStatus writes the status when it differs from base, guarded by
// the resourceVersion (lists are replaced as a whole).
func (r *SyncReconciler) patchSyncStatus(ctx context.Context, s, base *v1alpha1.AliyunCASCertificateSync) error {
	if equalSyncStatus(&s.Status, &base.Status) {
		return nil
	}
	return r.Client.Status().Patch(ctx, s, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

func equalSyncStatus(a, b *v1alpha1.CertificateSyncStatus) bool {
	// SetStatusCondition keeps LastTransitionTime while the status holds,
	// so an unchanged condition compares equal.
	return equality.Semantic.DeepEqual(a, b)
}
