package controllers

import (
	"context"
	"regexp"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// setIssuerReady sets an issuer's Ready condition for its current
// generation. It reports whether the condition changed at all, and whether
// its status or reason did (worth an Event: messages carry request ids and
// change at every check).
func setIssuerReady(iss v1alpha1.GenericIssuer, status metav1.ConditionStatus, reason, message string) (changed, newReason bool) {
	st := iss.GetStatus()
	reason = conditionReason(reason, v1alpha1.ReasonCheckFailed)
	message = truncate(message, maxMessage)
	old := meta.FindStatusCondition(st.Conditions, v1alpha1.ConditionReady)
	newReason = old == nil || old.Status != status || old.Reason != reason
	changed = newReason || old.Message != message || old.ObservedGeneration != iss.GetGeneration()
	meta.SetStatusCondition(&st.Conditions, metav1.Condition{
		Type:               v1alpha1.ConditionReady,
		Status:             status,
		Reason:             reason,
		Message:            message,
		ObservedGeneration: iss.GetGeneration(),
	})
	return changed, newReason
}

// patchIssuerStatus writes an issuer's status, guarded by its
// resourceVersion (the conditions list is replaced as a whole).
func patchIssuerStatus(ctx context.Context, c client.Client, iss, base v1alpha1.GenericIssuer) error {
	if err := c.Status().Patch(ctx, iss, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		return err
	}
	observeIssuerReady(iss)
	return nil
}

// markIssuerNotReady is how a CertificateRequest that met an issuer error
// (credentials, configuration) tells the issuer: its Ready condition goes
// False with the reason, until the next health check or spec/Secret change.
func markIssuerNotReady(ctx context.Context, c client.Client, rec events.EventRecorder, iss v1alpha1.GenericIssuer, reason, msg string) error {
	base, ok := iss.DeepCopyObject().(v1alpha1.GenericIssuer)
	if !ok {
		return nil
	}
	changed, newReason := setIssuerReady(iss, metav1.ConditionFalse, reason, msg)
	if !changed {
		return nil
	}
	if err := patchIssuerStatus(ctx, c, iss, base); err != nil {
		return err
	}
	if newReason {
		issuerEvent(rec, iss, "Warning", conditionReason(reason, v1alpha1.ReasonCheckFailed), "Sign", msg)
	}
	return nil
}

func issuerEvent(rec events.EventRecorder, iss runtime.Object, typ, reason, action, note string) {
	rec.Eventf(iss, nil, typ, reason, action, "%s", truncate(note, maxMessage))
}

var reasonInvalid = regexp.MustCompile(`[^A-Za-z0-9_]`)

// conditionReason turns a signer reason (which may be an API error code such
// as "Throttling.User") into a valid condition or Event reason (CamelCase).
func conditionReason(reason, fallback string) string {
	r := reasonInvalid.ReplaceAllString(reason, "")
	if r == "" || !(r[0] >= 'A' && r[0] <= 'Z' || r[0] >= 'a' && r[0] <= 'z') {
		return fallback
	}
	if len(r) > 128 {
		r = r[:128]
	}
	return r
}
