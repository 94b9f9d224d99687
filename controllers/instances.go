package controllers

import (
	"context"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// What only the Kubernetes side knows about a request of orderAPI Instance: the
// Certificate a subscription instance is bound to, and which instances other live
// requests hold.

// prepareInstanceRequest adds the owner and the instances other requests hold.
func (a *attempt) prepareInstanceRequest(sreq *signer.Request) {
	sreq.InstanceTaken = func(ctx context.Context, id string) (bool, error) {
		return a.heldByOther(ctx, indexRequestInstance, id)
	}
	if name := a.cr.GetAnnotations()[cmapi.CertificateNameKey]; name != "" {
		sreq.Owner = a.cr.Namespace + "/" + name
	}
}
