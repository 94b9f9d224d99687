package e2e_test

import (
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// TestDVOrderKeyAdoption: a Certificate on an orderAPI DVOrder ClusterIssuer
// with adoptServerKey. Alibaba Cloud generates the key; the issuer adopts it
// into cert-manager's next private key Secret, cert-manager re-requests with
// it, and the Certificate ends Ready with a Secret whose key matches, on one
// order.
func TestDVOrderKeyAdoption(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	ns := namespace(t, ctx)
	secret := credentials(t, ctx, framework.ClusterResourceNamespace)
	spec := issuerSpec(secret, "")
	spec.OrderAPI = v1alpha1.OrderAPIDVOrder
	spec.DVOrder = &v1alpha1.DVOrder{AdoptServerKey: true}
	spec.Contact.Province, spec.Contact.City = "Zhejiang", "Hangzhou"
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "aliyun-cas-dv"}, Spec: spec}
	if err := f.Client.Create(ctx, iss); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	waitIssuerReady(t, ctx, iss)
	if n := iss.Status.UsableInstances; n == nil || *n < 1 {
		t.Fatalf("usableInstances %v", n)
	}
	ref := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AliyunCASClusterIssuer", Name: iss.Name}

	orders := ordersFromNow()
	before := f.Sim.State().Calls
	c := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "dv", Namespace: ns},
		Spec: cmapi.CertificateSpec{
			SecretName: "dv-tls",
			CommonName: "dv.example.com",
			DNSNames:   []string{"dv.example.com"},
			IssuerRef:  ref,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.RSAKeyAlgorithm, Size: 2048, RotationPolicy: cmapi.RotationPolicyAlways},
		},
	}
	if err := f.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	_, tls := issued(t, ctx, ns, "dv")
	if tls.Leaf.Subject.CommonName != "dv.example.com" {
		t.Errorf("CN %q", tls.Leaf.Subject.CommonName)
	}
	after := f.Sim.State().Calls
	if n := after["CreateDVOrderAudit"] - before["CreateDVOrderAudit"]; n != 1 {
		t.Errorf("CreateDVOrderAudit calls: %d, want 1", n)
	}
	if n := orders.count("dv.example.com"); n != 1 {
		t.Errorf("orders for dv.example.com: %d, want 1", n)
	}
	t.Logf("DescribeDVOrderResult calls for the certificate: %d", after["DescribeDVOrderResult"]-before["DescribeDVOrderResult"])
}
