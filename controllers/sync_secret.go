package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Reasons of a sync's Secret problems (besides v1alpha1.ReasonSecretNotFound
// and ReasonSecretKeyMissing, and the signer's certificate checks).
const (
	// ReasonSecretNotTLS: the Secret is not of type kubernetes.io/tls.
	ReasonSecretNotTLS = "SecretNotTLS"
)

// readSyncSecret reads the sync's Secret from the API server (never from a
// cache: the controller may only get it) and checks its certificate and key.
// Problems with the Secret are PermanentErrors with a reason; the key is
// never part of a message.
func (r *SyncReconciler) readSyncSecret(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync, now time.Time) (*signer.CheckedCertificate, error) {
	sec := &corev1.Secret{}
	key := types.NamespacedName{Namespace: s.Namespace, Name: s.Spec.SecretName}
	if err := r.APIReader.Get(ctx, key, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, signer.Permanent(v1alpha1.ReasonSecretNotFound, "secret %s not found", key)
		}
		return nil, signer.Transient(reasonSecretUnavailable, 0, fmt.Errorf("cannot read Secret %s (may the controller get Secrets in namespace %s?): %w", key, s.Namespace, err))
	}
	if sec.Type != corev1.SecretTypeTLS {
		return nil, signer.Permanent(ReasonSecretNotTLS, "secret %s is of type %q, not %s", key, sec.Type, corev1.SecretTypeTLS)
	}
	for _, k := range []string{corev1.TLSCertKey, corev1.TLSPrivateKeyKey} {
		if strings.TrimSpace(string(sec.Data[k])) == "" {
			return nil, signer.Permanent(v1alpha1.ReasonSecretKeyMissing, "secret %s has no %s (or it is empty)", key, k)
		}
	}
	cert, err := signer.CheckCertificate(sec.Data[corev1.TLSCertKey], sec.Data[corev1.TLSPrivateKeyKey], now)
	if err != nil {
		return nil, fmt.Errorf("secret %s: %w", key, err)
	}
	return cert, nil
}

// namePrefix is spec.namePrefix, or <namespace>-<secretName> shortened to
// what fits in a CAS name.
func namePrefix(s *v1alpha1.AliyunCASCertificateSync) string {
	if s.Spec.NamePrefix != "" {
		return s.Spec.NamePrefix
	}
	p := s.Namespace + "-" + s.Spec.SecretName
	if len(p) > signer.MaxNamePrefix {
		p = strings.TrimRight(p[:signer.MaxNamePrefix], "-.")
	}
	return p
}
