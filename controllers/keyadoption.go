package controllers

import (
	"context"
	"fmt"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Key adoption (orderAPI DVOrder): Alibaba Cloud generates the private key
// of a DV order, so the certificate cannot match the key of cert-manager's
// CSR. When the order is issued, the issuer writes the server key into the
// request's next-private-key Secret (annotation
// cert-manager.io/private-key-secret-name) and records the instance on it;
// cert-manager then replaces the request with one built from that key, and
// the signer answers it from the recorded instance. The Secret is read and
// written through the API server only (the manager caches Secrets in some
// namespaces only), and the key never reaches a log, Event or condition.
//
// Updating Secrets is opt-in RBAC (Helm value rbac.keyAdoption.enabled),
// deliberately without a kubebuilder marker: the default RBAC stays narrow.

const (
	// reasonKeyAdopted is the Ready condition and Event reason of a request
	// whose server-generated key was adopted into its next-private-key
	// Secret.
	reasonKeyAdopted = signer.ReasonKeyAdopted
	// reasonKeyAdoptionFailed: the Secret could not be written (transient).
	reasonKeyAdoptionFailed = "KeyAdoptionFailed"

	// indexRequestInstance indexes CertificateRequests by the CAS instance
	// recorded on them (annotation aliyun-cas-issuer.io/instance-id).
	indexRequestInstance = v1alpha1.AnnotationInstanceID

	secretKeyTLSKey = corev1.TLSPrivateKeyKey
)

// indexInstance is the field index function of indexRequestInstance.
func indexInstance(o client.Object) []string {
	return indexIDs(o.GetAnnotations()[v1alpha1.AnnotationInstanceID], o, func(st signer.OrderState) string { return st.InstanceID })
}

// prepareDVRequest adds what only the Kubernetes side knows to a DV
// request: which instances other requests hold, and, when the request's
// next-private-key Secret is the one cert-manager made for the Certificate
// owning the request, the instance the issuer recorded (authenticated) on
// it with an adopted key that is the request's key. A next-private-key
// Secret that is not that Certificate's fails the request before anything
// is ordered: the issuer writes keys nowhere else.
func (a *attempt) prepareDVRequest(ctx context.Context, sreq *signer.Request) error {
	sreq.InstanceTaken = func(ctx context.Context, id string) (bool, error) {
		return a.heldByOther(ctx, indexRequestInstance, id)
	}
	if sreq.NextPrivateKeySecret == "" || a.iss.GetSpec().DVOrder == nil || !a.iss.GetSpec().DVOrder.AdoptServerKey {
		// The signer refuses these itself, with its own reasons.
		return nil
	}
	sec, err := a.nextKeySecret(ctx, sreq.NextPrivateKeySecret)
	if err != nil {
		return err
	}
	a.nextKey = sec
	id := sec.Annotations[v1alpha1.AnnotationInstanceID]
	if id == "" || !a.r.key.valid(sec.Annotations[v1alpha1.AnnotationAdoptedKeyMAC],
		a.r.key.adoptedKeyMAC(string(sec.UID), sec.Namespace, sec.Name, id, sec.Data[secretKeyTLSKey])) {
		// Nothing adopted by the issuer into this Secret: order.
		return nil
	}
	sreq.AdoptedInstanceID = signer.AdoptedInstance(id, sec.Data[secretKeyTLSKey], a.cr.Spec.Request)
	return nil
}

// reasonNextKeySecretRefused: the request's next-private-key Secret is not
// the one cert-manager made for the Certificate owning the request.
const reasonNextKeySecretRefused = "NextPrivateKeySecretRefused"

// nextKeySecret reads the request's next-private-key Secret, verified to be
// cert-manager's for the Certificate that owns the request: the request is
// owned by a Certificate whose status.nextPrivateKeySecretName is name, and
// the Secret carries cert-manager.io/next-private-key: "true" and is owned
// by that Certificate.
func (a *attempt) nextKeySecret(ctx context.Context, name string) (*corev1.Secret, error) {
	cr, r := a.cr, a.r
	refused := func(format string, args ...any) error {
		return signer.Permanent(reasonNextKeySecretRefused, "the next private key Secret %s/%s is refused, nothing is ordered: %s",
			cr.Namespace, name, fmt.Sprintf(format, args...))
	}
	owner := metav1.GetControllerOf(cr)
	if owner == nil || owner.Kind != cmapi.CertificateKind || owner.APIVersion != cmapi.SchemeGroupVersion.String() {
		return nil, refused("the request is not owned by a Certificate")
	}
	cert := &cmapi.Certificate{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: owner.Name}, cert); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, refused("its Certificate %s does not exist", owner.Name)
		}
		return nil, signer.Transient(reasonKeyAdoptionFailed, 0, fmt.Errorf("reading the Certificate %s/%s of the request (key adoption needs get on Certificates, e.g. Helm value rbac.keyAdoption.enabled): %w", cr.Namespace, owner.Name, err))
	}
	if cert.UID != owner.UID {
		return nil, refused("its Certificate %s was replaced", owner.Name)
	}
	if n := cert.Status.NextPrivateKeySecretName; n == nil || *n != name {
		return nil, refused("it is not the next private key Secret of Certificate %s", owner.Name)
	}
	sec := &corev1.Secret{}
	if err := r.APIReader.Get(ctx, types.NamespacedName{Namespace: cr.Namespace, Name: name}, sec); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, refused("it does not exist")
		}
		if apierrors.IsForbidden(err) {
			err = fmt.Errorf("the issuer may not read it (grant key adoption, e.g. Helm value rbac.keyAdoption.enabled): %w", err)
		}
		return nil, signer.Transient(reasonKeyAdoptionFailed, 0, fmt.Errorf("reading the next private key Secret %s/%s: %w", cr.Namespace, name, err))
	}
	if sec.Labels[cmapi.IsNextPrivateKeySecretLabelKey] != "true" {
		return nil, refused("it is not labelled %s: \"true\"", cmapi.IsNextPrivateKeySecretLabelKey)
	}
	if o := metav1.GetControllerOf(sec); o == nil || o.UID != cert.UID {
		return nil, refused("it is not owned by Certificate %s", owner.Name)
	}
	return sec, nil
}

// writeAdoptedKey writes the server-generated key of out into the
// request's verified next-private-key Secret (unless it holds it already),
// with the instance and a MAC over both. raced reports a write conflict:
// look again shortly.
func (a *attempt) writeAdoptedKey(ctx context.Context, out signer.Outcome) (raced bool, err error) {
	cr, r, adopt := a.cr, a.r, out.AdoptKey
	sec := a.nextKey
	if sec == nil {
		return false, signer.Permanent(signer.ReasonNoNextKeySecret,
			"CAS instance %s is issued for a key generated by Alibaba Cloud, but the request names no verified next private key Secret to adopt it into", adopt.InstanceID)
	}
	ref := fmt.Sprintf("%s/%s", sec.Namespace, sec.Name)
	mac := r.key.adoptedKeyMAC(string(sec.UID), sec.Namespace, sec.Name, adopt.InstanceID, adopt.KeyPEM)
	if adopt.HeldBy(sec.Data[secretKeyTLSKey], sec.Annotations[v1alpha1.AnnotationInstanceID]) &&
		r.key.valid(sec.Annotations[v1alpha1.AnnotationAdoptedKeyMAC], r.key.adoptedKeyMAC(string(sec.UID), sec.Namespace, sec.Name, adopt.InstanceID, sec.Data[secretKeyTLSKey])) {
		return false, nil
	}
	base := sec.DeepCopy()
	if sec.Data == nil {
		sec.Data = map[string][]byte{}
	}
	sec.Data[secretKeyTLSKey] = adopt.KeyPEM
	if sec.Annotations == nil {
		sec.Annotations = map[string]string{}
	}
	sec.Annotations[v1alpha1.AnnotationInstanceID] = adopt.InstanceID
	sec.Annotations[v1alpha1.AnnotationAdoptedKeyMAC] = mac
	if err := r.Client.Patch(ctx, sec, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
		if apierrors.IsConflict(err) {
			return true, nil
		}
		if apierrors.IsForbidden(err) {
			err = fmt.Errorf("the issuer may not update Secrets in namespace %s (key adoption is opt-in: e.g. Helm value rbac.keyAdoption.enabled)", cr.Namespace)
		}
		return false, signer.Transient(reasonKeyAdoptionFailed, 0,
			fmt.Errorf("adopting the key of CAS instance %s into the next private key Secret %s: %w", adopt.InstanceID, ref, err))
	}
	ctrl.LoggerFrom(ctx).Info("adopted the server-generated key into the next private key Secret", "instanceID", adopt.InstanceID, "secret", ref)
	return false, nil
}

// keyAdopted reports whether the request's order was handed over to the
// request cert-manager builds from the adopted key: nothing to give back.
func keyAdopted(cr *cmapi.CertificateRequest) bool {
	c := requestCondition(cr, cmapi.CertificateRequestConditionReady)
	return c != nil && c.Reason == reasonKeyAdopted
}
