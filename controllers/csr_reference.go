package controllers

import (
	"context"
	"fmt"

	authorizationv1 "k8s.io/api/authorization/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create

// reasonDeniedReference: the CSR's requester may not use the namespaced
// issuer its signer name names.
const reasonDeniedReference = "DeniedReference"

// reasonReferenceCheck: the SubjectAccessReview could not be made
// (transient).
const reasonReferenceCheck = "ReferenceCheck"

// mayReference reports whether the CSR's requester (spec.username, groups,
// extra and uid, which the API server sets from who created it) may use a
// namespaced issuer. As cert-manager does for its own namespaced signers,
// a namespaced issuer belongs to its namespace's users: whoever may create
// CSRs cluster-wide must not borrow it without the verb "reference" on
// resource "signers" of group aliyun-cas-issuer.io in that namespace, for
// the issuer's name or "*".
func mayReference(ctx context.Context, c client.Client, csr *certificatesv1.CertificateSigningRequest, ref signerRef) (bool, error) {
	extra := make(map[string]authorizationv1.ExtraValue, len(csr.Spec.Extra))
	for k, v := range csr.Spec.Extra {
		extra[k] = authorizationv1.ExtraValue(v)
	}
	for _, name := range []string{ref.name, "*"} {
		sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
			User:   csr.Spec.Username,
			Groups: csr.Spec.Groups,
			Extra:  extra,
			UID:    csr.Spec.UID,
			ResourceAttributes: &authorizationv1.ResourceAttributes{
				Group:     v1alpha1.GroupName,
				Version:   "*",
				Resource:  v1alpha1.SignersResource,
				Verb:      v1alpha1.VerbReference,
				Namespace: ref.namespace,
				Name:      name,
			},
		}}
		if err := c.Create(ctx, sar); err != nil {
			return false, fmt.Errorf("asking the API server whether %q may reference %s: %w", csr.Spec.Username, ref, err)
		}
		if sar.Status.Allowed {
			return true, nil
		}
	}
	return false, nil
}
