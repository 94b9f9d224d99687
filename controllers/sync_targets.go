package controllers

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Reasons of target problems.
const (
	// ReasonTargetNotFound: a Service of spec.targets.services does not exist.
	ReasonTargetNotFound = "TargetNotFound"
	// ReasonTargetUpdateFailed: a Service could not be read or patched
	// (typically: the opt-in Service RBAC is not installed).
	ReasonTargetUpdateFailed = "TargetUpdateFailed"
)

// updateTargets sets the load balancer certificate annotation of every
// target Service to certIdentifier, patching only the Services whose
// annotation differs. Services are read from the API server (the
// controller may get and patch them, not list or watch them). It returns
// the names of the Services it patched.
func (r *SyncReconciler) updateTargets(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync, certIdentifier string) ([]string, error) {
	if s.Spec.Targets == nil {
		return nil, nil
	}
	var patched []string
	for _, name := range s.Spec.Targets.Services {
		key := types.NamespacedName{Namespace: s.Namespace, Name: name}
		svc := &corev1.Service{}
		if err := r.APIReader.Get(ctx, key, svc); err != nil {
			if apierrors.IsNotFound(err) {
				return patched, signer.Permanent(ReasonTargetNotFound, "target Service %s not found", key)
			}
			return patched, targetError(key, "read", err)
		}
		if svc.Annotations[v1alpha1.AnnotationLoadBalancerCertID] == certIdentifier {
			continue
		}
		body, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"annotations": map[string]string{v1alpha1.AnnotationLoadBalancerCertID: certIdentifier},
		}})
		if err != nil {
			return patched, err
		}
		if err := r.Client.Patch(ctx, svc, client.RawPatch(types.MergePatchType, body)); err != nil {
			if apierrors.IsNotFound(err) {
				return patched, signer.Permanent(ReasonTargetNotFound, "target Service %s not found", key)
			}
			return patched, targetError(key, "patch", err)
		}
		patched = append(patched, name)
	}
	return patched, nil
}

// targetError classifies an API server error on a target: a refusal
// (RBAC) waits for a person, anything else is retried.
func targetError(key types.NamespacedName, verb string, err error) error {
	wrapped := fmt.Errorf("cannot %s target Service %s (may the controller get and patch Services in namespace %s?): %w", verb, key, key.Namespace, err)
	if apierrors.IsForbidden(err) {
		return signer.Permanent(ReasonTargetUpdateFailed, "%v", wrapped)
	}
	return signer.Transient(ReasonTargetUpdateFailed, 0, wrapped)
}
