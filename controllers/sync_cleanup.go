package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// eventUploadsRetained: the sync was deleted with deletionPolicy Retain,
// or its uploads could not be deleted in time.
const eventUploadsRetained = "UploadsRetained"

// deletePrevious deletes the replaced uploads whose deleteAfter has passed
// (all of them when all is set), dropping each from the status once
// deleted. It returns when the next remaining one is due.
func (r *SyncReconciler) deletePrevious(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync, up signer.Uploader, now time.Time, all bool) (time.Time, error) {
	var next time.Time
	kept := s.Status.Previous[:0:0]
	var firstErr error
	for _, p := range s.Status.Previous {
		if !all && now.Before(p.DeleteAfter.Time) {
			kept = append(kept, p)
			if next.IsZero() || p.DeleteAfter.Time.Before(next) {
				next = p.DeleteAfter.Time
			}
			continue
		}
		if firstErr == nil {
			if err := up.Delete(ctx, string(orDefaultAPI(p.API)), p.CertID); err != nil {
				firstErr = err
			} else {
				r.event(s, corev1.EventTypeNormal, eventUploadDeleted, "Delete", fmt.Sprintf("replaced CAS certificate %s deleted", p.CertID))
				continue
			}
		}
		kept = append(kept, p)
	}
	s.Status.Previous = kept
	return next, firstErr
}

// finalize cleans up a deleted sync's uploads per its deletionPolicy, then
// removes the finalizer. Uploads that cannot be deleted (the issuer or its
// credentials are gone, the API keeps failing) are given up after
// Options.CancelGiveUp, with a Warning Event, so that the namespace can go.
func (r *SyncReconciler) finalize(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync) (ctrl.Result, error) {
	if !controllerutil.ContainsFinalizer(s, v1alpha1.FinalizerDeleteUploads) {
		return ctrl.Result{}, nil
	}
	key := client.ObjectKeyFromObject(s)
	base := s.DeepCopy()
	policy := s.Spec.DeletionPolicy
	if policy == "" {
		policy = v1alpha1.DefaultDeletionPolicy
	}
	if policy == v1alpha1.DeletionPolicyDelete && (s.Status.CertID != "" || len(s.Status.Previous) > 0) {
		err := r.deleteAll(ctx, s)
		if err != nil {
			giveUp := s.DeletionTimestamp.Add(r.opts.CancelGiveUp)
			if time.Now().Before(giveUp) {
				if perr := r.patchSyncStatus(ctx, s, base); perr != nil {
					return ctrl.Result{}, perr
				}
				return ctrl.Result{RequeueAfter: min(r.backoff.When(key), time.Until(giveUp)+time.Second)}, nil
			}
			_, msg, _ := syncFailure(err, nil)
			r.event(s, corev1.EventTypeWarning, eventUploadsRetained, "Delete", "giving up deleting the uploads from CAS: "+msg)
		}
	} else if policy == v1alpha1.DeletionPolicyRetain && s.Status.CertID != "" {
		r.event(s, corev1.EventTypeNormal, eventUploadsRetained, "Delete", fmt.Sprintf("deletionPolicy Retain: CAS certificate %s stays", s.Status.CertID))
	}
	before := s.DeepCopy()
	controllerutil.RemoveFinalizer(s, v1alpha1.FinalizerDeleteUploads)
	if err := r.Client.Patch(ctx, s, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.forgetCheck(s.UID)
	r.backoff.Forget(key)
	return ctrl.Result{}, nil
}

// deleteAll deletes the current and the replaced uploads of a sync.
func (r *SyncReconciler) deleteAll(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync) error {
	api := string(orDefaultAPI(s.Status.API))
	entry, err := r.uploaders.get(ctx, s, api)
	if err != nil {
		return err
	}
	if _, err := r.deletePrevious(ctx, s, entry.uploader, time.Now(), true); err != nil {
		return scrubError(err, entry.secrets)
	}
	if s.Status.CertID != "" {
		if err := entry.uploader.Delete(ctx, api, s.Status.CertID); err != nil {
			return scrubError(err, entry.secrets)
		}
		r.event(s, corev1.EventTypeNormal, eventUploadDeleted, "Delete", fmt.Sprintf("CAS certificate %s deleted with the sync", s.Status.CertID))
		s.Status.CertID, s.Status.CertIdentifier = "", ""
	}
	return nil
}
