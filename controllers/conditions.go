package controllers

import (
	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Condition helpers for CertificateRequests. cert-manager reads only the
// Ready condition's status and reason (Pending, Issued, Failed, Denied) and
// status.failureTime; the message is for people.

// maxMessage bounds condition messages and Event notes.
const maxMessage = 1000

func requestCondition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == t {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

func hasRequestCondition(cr *cmapi.CertificateRequest, t cmapi.CertificateRequestConditionType, status cmmeta.ConditionStatus, reason string) bool {
	c := requestCondition(cr, t)
	return c != nil && c.Status == status && (reason == "" || c.Reason == reason)
}

func isApproved(cr *cmapi.CertificateRequest) bool {
	return hasRequestCondition(cr, cmapi.CertificateRequestConditionApproved, cmmeta.ConditionTrue, "")
}

func isDenied(cr *cmapi.CertificateRequest) bool {
	return hasRequestCondition(cr, cmapi.CertificateRequestConditionDenied, cmmeta.ConditionTrue, "")
}

// isTerminal reports whether nothing more will happen to the request:
// issued, failed or denied.
func isTerminal(cr *cmapi.CertificateRequest) bool {
	c := requestCondition(cr, cmapi.CertificateRequestConditionReady)
	if c == nil {
		return false
	}
	switch {
	case c.Status == cmmeta.ConditionTrue:
		return true
	case c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.CertificateRequestReasonDenied:
		return true
	case c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.CertificateRequestReasonFailed && cr.Status.FailureTime != nil:
		return true
	}
	return false
}

// isIssued reports Ready=True.
func isIssued(cr *cmapi.CertificateRequest) bool {
	return hasRequestCondition(cr, cmapi.CertificateRequestConditionReady, cmmeta.ConditionTrue, "")
}

// setReady sets the Ready condition; LastTransitionTime changes only when
// the status does. It reports whether anything changed.
func setReady(cr *cmapi.CertificateRequest, status cmmeta.ConditionStatus, reason, message string, now metav1.Time) bool {
	message = truncate(message, maxMessage)
	if c := requestCondition(cr, cmapi.CertificateRequestConditionReady); c != nil {
		if c.Status == status && c.Reason == reason && c.Message == message {
			return false
		}
		if c.Status != status || c.LastTransitionTime == nil {
			c.LastTransitionTime = &now
		}
		c.Status, c.Reason, c.Message = status, reason, message
		return true
	}
	cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
		Type:               cmapi.CertificateRequestConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            message,
		LastTransitionTime: &now,
	})
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	// Cut on a rune boundary.
	for n > 0 && (s[n]&0xC0) == 0x80 {
		n--
	}
	return s[:n] + "…"
}
