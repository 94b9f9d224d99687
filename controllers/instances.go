package controllers

import (
	"context"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// What only the Kubernetes side knows about a request of the flows that use certificate
// instances: which instances other live requests hold, and (orderAPI Instance) the
// Certificate a subscription instance is bound to.

// prepareInstanceRequest adds the owner and the instances other requests hold to a request
// of orderAPI Instance.
func (r *CertificateRequestReconciler) prepareInstanceRequest(cr *cmapi.CertificateRequest, sreq *signer.Request) {
	sreq.InstanceTaken = r.instanceTaken(cr)
	if name := cr.GetAnnotations()[cmapi.CertificateNameKey]; name != "" {
		sreq.Owner = cr.Namespace + "/" + name
	}
}

// instanceTaken reports whether a live request other than cr records the instance
// (annotation instance-id).
func (r *CertificateRequestReconciler) instanceTaken(cr *cmapi.CertificateRequest) func(ctx context.Context, id string) (bool, error) {
	uid := cr.UID
	return func(ctx context.Context, id string) (bool, error) {
		var l cmapi.CertificateRequestList
		if err := r.Client.List(ctx, &l, client.MatchingFields{indexRequestInstance: id}); err != nil {
			return false, err
		}
		for i := range l.Items {
			// A finished request holds nothing: a DV instance it ordered on is used up, a
			// subscription instance it issued on stays bound to its Certificate.
			if l.Items[i].UID != uid && !isTerminal(&l.Items[i]) {
				return true, nil
			}
		}
		return false, nil
	}
}
