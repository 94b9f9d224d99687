package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// instanceIssuer creates an AliyunCASClusterIssuer on CAS V2.0
// subscription instances (orderAPI Instance, the default) and waits for it
// to be Ready.
func instanceIssuer(t *testing.T, ctx context.Context, name string) cmmeta.IssuerReference {
	t.Helper()
	secret := credentials(t, ctx, framework.ClusterResourceNamespace)
	spec := issuerSpec(secret, "")
	spec.OrderAPI = ""
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := f.Client.Create(ctx, iss); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	waitIssuerReady(t, ctx, iss)
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AliyunCASClusterIssuer", Name: name}
}

// instancesFor are the V2.0 instances whose application carries domain.
func instancesFor(domain string) []aliyunsim.InstanceState {
	var out []aliyunsim.InstanceState
	for _, i := range f.Sim.State().Instances {
		if i.Domain == domain {
			out = append(out, i)
		}
	}
	return out
}

// TestInstanceIssuedAndRenewed: through cert-manager's controllers, an RSA
// and an ECDSA Certificate are issued on CAS V2.0 instances of their own,
// one application each; a renewal is issued on the same instance with one
// new application and a new CertificateId, and the other Certificate's
// instance is left alone.
func TestInstanceIssuedAndRenewed(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	ns := namespace(t, ctx)
	ref := instanceIssuer(t, ctx, "aliyun-cas-v2")
	// Each run (-count) its own names, so instances bound before are not
	// in the way of the counts.
	suffix := strings.TrimPrefix(ns, "testinstanceissuedandrenewed-")
	rsaName := fmt.Sprintf("v2-rsa-%s.example.com", suffix)
	ecName := fmt.Sprintf("v2-ec-%s.example.com", suffix)

	rsa := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "v2-rsa", Namespace: ns},
		Spec: cmapi.CertificateSpec{
			SecretName: "v2-rsa-tls", CommonName: rsaName, DNSNames: []string{rsaName}, IssuerRef: ref,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.RSAKeyAlgorithm, Size: 2048},
		},
	}
	if err := f.Client.Create(ctx, rsa); err != nil {
		t.Fatal(err)
	}
	certificate(t, ctx, ns, "v2-ec", ref, ecName)

	_, rsaTLS := issued(t, ctx, ns, "v2-rsa")
	_, ecTLS := issued(t, ctx, ns, "v2-ec")
	if rsaTLS.Leaf.PublicKeyAlgorithm.String() != "RSA" || ecTLS.Leaf.PublicKeyAlgorithm.String() != "ECDSA" {
		t.Errorf("leaf keys %s and %s, want RSA and ECDSA", rsaTLS.Leaf.PublicKeyAlgorithm, ecTLS.Leaf.PublicKeyAlgorithm)
	}

	// One instance per Certificate, one application each.
	rsaInst, ecInst := instancesFor(rsaName), instancesFor(ecName)
	if len(rsaInst) != 1 || len(ecInst) != 1 {
		t.Fatalf("instances for %s: %d, for %s: %d; want one each", rsaName, len(rsaInst), ecName, len(ecInst))
	}
	if rsaInst[0].ID == ecInst[0].ID {
		t.Fatalf("both Certificates on instance %s", rsaInst[0].ID)
	}
	for _, i := range []aliyunsim.InstanceState{rsaInst[0], ecInst[0]} {
		if i.Applications != 1 || len(i.Certificates) != 1 {
			t.Fatalf("instance %s of %s: %d applications, certificates %v; want 1 and 1", i.ID, i.Domain, i.Applications, i.Certificates)
		}
	}

	renew(t, ctx, ns, "v2-ec")
	_, renewed := issued(t, ctx, ns, "v2-ec")
	if renewed.Leaf.SerialNumber.Cmp(ecTLS.Leaf.SerialNumber) == 0 {
		t.Fatal("renewal returned the same certificate")
	}
	after := instancesFor(ecName)
	if len(after) != 1 || after[0].ID != ecInst[0].ID {
		t.Fatalf("renewal of %s on instances %v, want the same instance %s", ecName, after, ecInst[0].ID)
	}
	if after[0].Applications != 2 || len(after[0].Certificates) != 2 || after[0].Certificates[0] == after[0].Certificates[1] {
		t.Fatalf("instance %s after renewal: %d applications, certificates %v; want 2 applications, 2 certificate ids", after[0].ID, after[0].Applications, after[0].Certificates)
	}
	if got := instancesFor(rsaName); len(got) != 1 || got[0].Applications != 1 {
		t.Fatalf("the other Certificate's instance moved: %+v", got)
	}
}
