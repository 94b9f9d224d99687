package testenv_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

// TestControlPlaneServesCertManagerTypes proves the harness: a real API
// server with cert-manager's CRDs accepts, validates and returns its objects.
func TestControlPlaneServesCertManagerTypes(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c := env.Client

	ci := &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: "selfsigned"},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{SelfSigned: &cmapi.SelfSignedIssuer{}}},
	}
	if err := c.Create(ctx, ci); err != nil {
		t.Fatalf("create ClusterIssuer: %v", err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "harness"}}
	if err := c.Create(ctx, ns); err != nil {
		t.Fatalf("create namespace: %v", err)
	}
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "www", Namespace: ns.Name},
		Spec: cmapi.CertificateSpec{
			SecretName: "www-tls",
			DNSNames:   []string{"www.example.com"},
			IssuerRef:  cmmeta.IssuerReference{Name: ci.Name, Kind: "ClusterIssuer", Group: "cert-manager.io"},
		},
	}
	if err := c.Create(ctx, cert); err != nil {
		t.Fatalf("create Certificate: %v", err)
	}

	var gotIssuer cmapi.ClusterIssuer
	if err := c.Get(ctx, client.ObjectKeyFromObject(ci), &gotIssuer); err != nil {
		t.Fatalf("get ClusterIssuer: %v", err)
	}
	if gotIssuer.Spec.SelfSigned == nil || gotIssuer.UID == "" {
		t.Fatalf("ClusterIssuer read back without its spec or UID: %+v", gotIssuer)
	}
	var gotCert cmapi.Certificate
	if err := c.Get(ctx, client.ObjectKeyFromObject(cert), &gotCert); err != nil {
		t.Fatalf("get Certificate: %v", err)
	}
	if gotCert.Spec.SecretName != "www-tls" || len(gotCert.Spec.DNSNames) != 1 || gotCert.Spec.DNSNames[0] != "www.example.com" {
		t.Fatalf("Certificate read back changed: %+v", gotCert.Spec)
	}

	// The CRD's schema is enforced: a private key algorithm outside the
	// enum is refused by the API server, which a fake client would accept.
	bad := cert.DeepCopy()
	bad.ObjectMeta = metav1.ObjectMeta{Name: "bad-key", Namespace: ns.Name}
	bad.Spec.PrivateKey = &cmapi.CertificatePrivateKey{Algorithm: "DSA"}
	if err := c.Create(ctx, bad); err == nil {
		t.Fatal("API server accepted a Certificate with privateKey.algorithm DSA")
	} else if !strings.Contains(err.Error(), "algorithm") {
		t.Fatalf("refused for another reason than the algorithm: %v", err)
	}
}

// TestProjectCRDsInstalled checks this project's CRDs are served.
func TestProjectCRDsInstalled(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range []string{"aliyuncasissuers.aliyun-cas-issuer.io", "aliyuncasclusterissuers.aliyun-cas-issuer.io"} {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, &crd); err != nil {
			t.Errorf("CRD %s: %v", name, err)
		}
	}
}
