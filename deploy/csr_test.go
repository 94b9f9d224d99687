package deploy_test

import (
	"context"
	"fmt"
	"testing"

	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
)

// newCSR creates a Kubernetes CertificateSigningRequest for signerName as
// the cluster admin (who may reference every issuer) and approves it.
func newCSR(t *testing.T, name, signerName string) {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	csr, err := cs.CertificatesV1().CertificateSigningRequests().Create(ctx, &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: signerName,
			Request:    testcsr.PEM(t, testcsr.Spec{CommonName: "csr.example.com", DNSNames: []string{"csr.example.com"}}),
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageServerAuth},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cs.CertificatesV1().CertificateSigningRequests().Delete(context.Background(), name, metav1.DeleteOptions{})
	})
	csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
		Type: certificatesv1.CertificateApproved, Status: corev1.ConditionTrue, Reason: "DeployTest", Message: "approved by the test",
	})
	if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(ctx, name, csr, metav1.UpdateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// csrSigned reports whether the CSR has its certificate, or why not.
func csrSigned(ctx context.Context, name string) (bool, error) {
	csr := &certificatesv1.CertificateSigningRequest{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, csr); err != nil {
		return false, err
	}
	if len(csr.Status.Certificate) > 0 {
		return true, nil
	}
	return false, fmt.Errorf("conditions %+v, annotations %v", csr.Status.Conditions, csr.Annotations)
}
