package controllers

import (
	"context"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// Writing a CertificateRequest's status and Events.

func (r *CertificateRequestReconciler) patchStatus(ctx context.Context, cr, base *cmapi.CertificateRequest) error {
	// The conditions list is replaced as a whole by a merge patch: guard it
	// with the resourceVersion so an approval written meanwhile is not lost.
	return r.Client.Status().Patch(ctx, cr, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// requeueOnWriteRace is the answer to a failed write of an object someone
// else changed meanwhile: a conflict is a quiet, short requeue, and an
// object deleted meanwhile (NotFound) is not an error.
func requeueOnWriteRace(err error) (ctrl.Result, error) {
	switch {
	case apierrors.IsConflict(err):
		return ctrl.Result{RequeueAfter: 200 * time.Millisecond}, nil
	case apierrors.IsNotFound(err):
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, err
}

// event records an Event on the request (related to its issuer, if known).
func (r *CertificateRequestReconciler) event(cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, typ, reason, action, note string) {
	var related runtime.Object
	if iss != nil {
		related = iss
	}
	r.Recorder.Eventf(cr, related, typ, reason, action, "%s", truncate(note, maxMessage))
}

// issuerReadyMessage is the issuer's Ready message, or why it has none.
func issuerReadyMessage(iss v1alpha1.GenericIssuer) string {
	c := v1alpha1.ReadyCondition(iss)
	switch {
	case c == nil:
		return "not checked yet"
	case c.ObservedGeneration != iss.GetGeneration():
		return "configuration changed, not checked yet"
	case c.Message != "":
		return c.Message
	}
	return c.Reason
}
