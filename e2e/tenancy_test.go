package e2e_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// TestTenantClonesIssuedDVRequest: through real cert-manager, tenant A's
// Certificate is issued on a shared DVOrder ClusterIssuer (its key adopted
// from Alibaba Cloud). Tenant B copies every aliyun-cas-issuer.io/*
// annotation and finalizer of A's issued request, and the instance record
// of A's key Secret, onto a request and a Secret of its own, with its own
// key. B's request is refused before anything is ordered, A's key never
// reaches B's Secret, and after B deletes its request A's Certificate is
// still Ready with the same certificate.
func TestTenantClonesIssuedDVRequest(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	nsA, nsB := namespace(t, ctx), namespace(t, ctx)
	secret := credentials(t, ctx, framework.ClusterResourceNamespace)
	spec := issuerSpec(secret, "")
	spec.OrderAPI = v1alpha1.OrderAPIDVOrder
	spec.DVOrder = &v1alpha1.DVOrder{AdoptServerKey: true}
	spec.Contact.Province, spec.Contact.City = "Zhejiang", "Hangzhou"
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "aliyun-cas-dv-shared"}, Spec: spec}
	if err := f.Client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(t, ctx, iss)
	ref := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AliyunCASClusterIssuer", Name: iss.Name}

	const domain = "tenant-a.example.com"
	c := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "a", Namespace: nsA},
		Spec: cmapi.CertificateSpec{
			SecretName: "a-tls", CommonName: domain, DNSNames: []string{domain}, IssuerRef: ref,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.RSAKeyAlgorithm, Size: 2048, RotationPolicy: cmapi.RotationPolicyAlways},
		},
	}
	if err := f.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, tlsA := issued(t, ctx, nsA, "a")
	var issuedA *cmapi.CertificateRequest
	var list cmapi.CertificateRequestList
	if err := f.Client.List(ctx, &list, client.InNamespace(nsA)); err != nil {
		t.Fatal(err)
	}
	for i := range list.Items {
		cr := &list.Items[i]
		if cr.Annotations[v1alpha1.AnnotationInstanceID] != "" && len(cr.Status.Certificate) > 0 {
			issuedA = cr
		}
	}
	if issuedA == nil {
		t.Fatal("no issued request of A records an instance")
	}
	// The instance record cert-manager's next-private-key Secret carried
	// (cert-manager removes that Secret once issued; its annotations are
	// the ones the issuer writes on it).
	instanceA := issuedA.Annotations[v1alpha1.AnnotationInstanceID]
	ordersBefore := f.Sim.State().Calls["CreateDVOrderAudit"]

	// Tenant B: its own key, its own Secret claiming A's instance, and a
	// request with A's state.
	keyB, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(keyB)})
	secB := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "b-next",
			Labels:      map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"},
			Annotations: map[string]string{v1alpha1.AnnotationInstanceID: instanceA}},
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: keyPEM},
	}
	if err := f.Client.Create(ctx, secB); err != nil {
		t.Fatal(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: domain}, DNSNames: []string{domain}}, keyB)
	if err != nil {
		t.Fatal(err)
	}
	crB := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: nsB, Name: "b",
			Annotations: map[string]string{cmapi.CertificateRequestPrivateKeyAnnotationKey: "b-next"}},
		Spec: cmapi.CertificateRequestSpec{IssuerRef: ref, Request: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}),
			Usages: []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth}},
	}
	for k, v := range issuedA.Annotations {
		if strings.HasPrefix(k, v1alpha1.AnnotationPrefix) {
			crB.Annotations[k] = v
		}
	}
	// A's finalizer is gone once issued: B adds it as it was while A's
	// order was pending.
	crB.Finalizers = []string{v1alpha1.FinalizerCancelOrder}
	if err := f.Client.Create(ctx, crB); err != nil {
		t.Fatal(err)
	}
	// cert-manager's approver approves it; the issuer refuses it.
	keyB2 := client.ObjectKeyFromObject(crB)
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		cr := &cmapi.CertificateRequest{}
		if err := f.Client.Get(ctx, keyB2, cr); err != nil {
			return false, "", err
		}
		for _, c := range cr.Status.Conditions {
			if c.Type == cmapi.CertificateRequestConditionReady {
				if c.Reason == cmapi.CertificateRequestReasonFailed && strings.Contains(c.Message, "NextPrivateKeySecretRefused") {
					return true, "", nil
				}
				return false, c.Reason + ": " + c.Message, nil
			}
		}
		return false, "no Ready condition", nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.Client.Delete(ctx, crB); err != nil {
		t.Fatal(err)
	}
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		err := f.Client.Get(ctx, keyB2, &cmapi.CertificateRequest{})
		return apierrors.IsNotFound(err), fmt.Sprint(err), nil
	}); err != nil {
		t.Fatal(err)
	}

	got := &corev1.Secret{}
	if err := f.Client.Get(ctx, client.ObjectKeyFromObject(secB), got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Data[corev1.TLSPrivateKeyKey], keyPEM) {
		t.Fatal("B's Secret was written")
	}
	if n := f.Sim.State().Calls["CreateDVOrderAudit"] - ordersBefore; n != 0 {
		t.Errorf("%d orders placed for B", n)
	}
	certA, tlsA2 := issued(t, ctx, nsA, "a")
	if !tlsA2.Leaf.Equal(tlsA.Leaf) || certA.Status.Revision == nil {
		t.Errorf("A's certificate changed")
	}
}
