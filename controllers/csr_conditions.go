package controllers

import (
	"fmt"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Conditions of Kubernetes CertificateSigningRequests. Approved and Denied
// are set by approvers (the /approval subresource), Failed by the signer;
// none can be removed once set, so a CSR with any of Denied, Failed or a
// certificate is finished for good.

func csrCondition(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Type == t {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

func csrHas(csr *certificatesv1.CertificateSigningRequest, t certificatesv1.RequestConditionType) bool {
	c := csrCondition(csr, t)
	return c != nil && c.Status == corev1.ConditionTrue
}

// csrApproved: approved and never denied (the API keeps the two apart, but
// a signer must not rely on it).
func csrApproved(csr *certificatesv1.CertificateSigningRequest) bool {
	return csrHas(csr, certificatesv1.CertificateApproved) && !csrHas(csr, certificatesv1.CertificateDenied)
}

// csrFinished: issued, denied or failed.
func csrFinished(csr *certificatesv1.CertificateSigningRequest) bool {
	return len(csr.Status.Certificate) > 0 || csrHas(csr, certificatesv1.CertificateDenied) || csrHas(csr, certificatesv1.CertificateFailed)
}

// setCSRFailed adds the Failed condition.
func setCSRFailed(csr *certificatesv1.CertificateSigningRequest, reason, message string, now metav1.Time) {
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type:               certificatesv1.CertificateFailed,
		Status:             corev1.ConditionTrue,
		Reason:             reason,
		Message:            truncate(message, maxMessage),
		LastTransitionTime: now,
		LastUpdateTime:     now,
	})
}

// csrReleaseStart is when the CSR stopped needing its order.
func csrReleaseStart(csr *certificatesv1.CertificateSigningRequest) time.Time {
	if csr.DeletionTimestamp != nil {
		return csr.DeletionTimestamp.Time
	}
	for _, t := range []certificatesv1.RequestConditionType{certificatesv1.CertificateFailed, certificatesv1.CertificateDenied} {
		if c := csrCondition(csr, t); c != nil && !c.LastTransitionTime.IsZero() {
			return c.LastTransitionTime.Time
		}
	}
	return time.Now()
}

// Duration of a CertificateSigningRequest, as cert-manager reads it: the
// annotation experimental.cert-manager.io/request-duration (a Go
// duration) wins over spec.expirationSeconds; neither is a zero duration
// (CAS sets the validity; the Issued Event reports the real NotAfter).
const (
	annotationRequestDuration = "experimental.cert-manager.io/request-duration"
	annotationRequestIsCA     = "experimental.cert-manager.io/request-is-ca"
	// minCSRDuration is the least a CSR may ask for, as for
	// spec.expirationSeconds.
	minCSRDuration = 600 * time.Second

	reasonBadDuration = "InvalidDuration"
)

func csrDuration(csr *certificatesv1.CertificateSigningRequest) (time.Duration, error) {
	var d time.Duration
	if v, ok := csr.Annotations[annotationRequestDuration]; ok {
		var err error
		if d, err = time.ParseDuration(v); err != nil {
			return 0, fmt.Errorf("annotation %s %q is not a duration: %w", annotationRequestDuration, v, err)
		}
	} else if csr.Spec.ExpirationSeconds != nil {
		d = time.Duration(*csr.Spec.ExpirationSeconds) * time.Second
	} else {
		return 0, nil
	}
	if d < minCSRDuration {
		return 0, fmt.Errorf("the requested duration %s is shorter than the minimum %s", d, minCSRDuration)
	}
	return d, nil
}
