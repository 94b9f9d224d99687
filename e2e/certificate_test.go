package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// TestCertificateIssued: a Certificate on a ClusterIssuer ends with a
// kubernetes.io/tls Secret as cert-manager writes it, the key matching, the
// chain verifying against the simulator's root, one order placed.
func TestCertificateIssued(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	ref := clusterIssuer(t, ctx, "aliyun-cas", freeProduct)
	orders := ordersFromNow()
	before := scrape(t)
	certificate(t, ctx, ns, "www", ref, "www.example.com")
	cert, tls := issued(t, ctx, ns, "www")
	if tls.Leaf.Subject.CommonName != "www.example.com" {
		t.Errorf("CN %q", tls.Leaf.Subject.CommonName)
	}
	if n := orders.count("www.example.com"); n != 1 {
		t.Errorf("orders for www.example.com: %d, want 1", n)
	}
	if *cert.Status.Revision != 1 {
		t.Errorf("revision %d, want 1", *cert.Status.Revision)
	}
	// The issuer's metrics moved by exactly this one certificate. It counts
	// right after its status write, so the figures are waited for.
	err := framework.Poll(ctx, 100*time.Millisecond, func(context.Context) (bool, string, error) {
		after, err := framework.ScrapeMetrics(f.MetricsAddr)
		if err != nil {
			return false, err.Error(), nil
		}
		var wrong []string
		for _, m := range []struct {
			name   string
			labels []string
			want   float64
		}{
			{"aliyun_cas_issuer_orders_created_total", []string{`api="CSR"`}, 1},
			{"aliyun_cas_issuer_orders_issued_total", []string{`api="CSR"`}, 1},
			{"aliyun_cas_issuer_approval_to_issued_seconds_count", []string{`api="CSR"`}, 1},
			{"aliyun_cas_issuer_api_calls_total", []string{`action="CreateCertificateWithCsrRequest"`, `outcome="ok"`}, 1},
			{"aliyun_cas_issuer_orders_failed_total", nil, 0},
		} {
			if d := after.Sum(m.name, m.labels...) - before.Sum(m.name, m.labels...); d != m.want {
				wrong = append(wrong, fmt.Sprintf("%s%v moved by %v, want %v", m.name, m.labels, d, m.want))
			}
		}
		if after.Sum("aliyun_cas_issuer_issuer_ready", `kind="AliyunCASClusterIssuer"`, `name="aliyun-cas"`) != 1 {
			wrong = append(wrong, "issuer_ready is not 1 for the Ready ClusterIssuer")
		}
		return len(wrong) == 0, strings.Join(wrong, "; "), nil
	})
	if err != nil {
		t.Error(err)
	}
}

func scrape(t *testing.T) framework.Metrics {
	t.Helper()
	m, err := framework.ScrapeMetrics(f.MetricsAddr)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// TestIngressAnnotations: ingress-shim turns an annotated Ingress into one
// Certificate per TLS entry, each issued by the external issuer named by
// cert-manager.io/issuer, issuer-kind and issuer-group.
func TestIngressAnnotations(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	ref := namespacedIssuer(t, ctx, ns, "cas", freeProduct)
	pathType := networkingv1.PathTypePrefix
	ing := &networkingv1.Ingress{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: ns, Annotations: map[string]string{
			"cert-manager.io/issuer":       ref.Name,
			"cert-manager.io/issuer-kind":  ref.Kind,
			"cert-manager.io/issuer-group": ref.Group,
		}},
		Spec: networkingv1.IngressSpec{
			TLS: []networkingv1.IngressTLS{
				{Hosts: []string{"shop.example.com"}, SecretName: "shop-tls"},
				{Hosts: []string{"api.example.org"}, SecretName: "api-tls"},
			},
			Rules: []networkingv1.IngressRule{{Host: "shop.example.com", IngressRuleValue: networkingv1.IngressRuleValue{
				HTTP: &networkingv1.HTTPIngressRuleValue{Paths: []networkingv1.HTTPIngressPath{{
					Path: "/", PathType: &pathType,
					Backend: networkingv1.IngressBackend{Service: &networkingv1.IngressServiceBackend{Name: "shop", Port: networkingv1.ServiceBackendPort{Number: 80}}},
				}}},
			}}},
		},
	}
	if err := f.Client.Create(ctx, ing); err != nil {
		t.Fatal(err)
	}
	for secret, host := range map[string]string{"shop-tls": "shop.example.com", "api-tls": "api.example.org"} {
		cert, tls := issued(t, ctx, ns, secret)
		if cert.Spec.IssuerRef != ref {
			t.Errorf("Certificate %s issuerRef %+v, want %+v", secret, cert.Spec.IssuerRef, ref)
		}
		if len(tls.Leaf.DNSNames) != 1 || tls.Leaf.DNSNames[0] != host {
			t.Errorf("Secret %s names %v, want [%s]", secret, tls.Leaf.DNSNames, host)
		}
	}
}

// TestIssuerScopes: a namespaced issuer serves its own namespace; one
// ClusterIssuer serves Certificates in two namespaces.
func TestIssuerScopes(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	nsA := namespace(t, ctx)
	nsB := namespace(t, ctx)
	cluster := clusterIssuer(t, ctx, "aliyun-cas-multi", multiProduct)
	local := namespacedIssuer(t, ctx, nsA, "local", freeProduct)
	certificate(t, ctx, nsA, "local", local, "a.example.com")
	certificate(t, ctx, nsA, "shared", cluster, "shared-a.example.com", "alt-a.example.com")
	certificate(t, ctx, nsB, "shared", cluster, "shared-b.example.org", "alt-b.example.org", "third-b.example.org")
	issued(t, ctx, nsA, "local")
	issued(t, ctx, nsA, "shared")
	issued(t, ctx, nsB, "shared")
}

// TestRenewal: a manual renewal (the Issuing condition, as `cmctl renew`
// sets it) gives a new certificate from a new order.
func TestRenewal(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	ref := clusterIssuer(t, ctx, "aliyun-cas", freeProduct)
	orders := ordersFromNow()
	certificate(t, ctx, ns, "renew", ref, "renew.example.com")
	_, first := issued(t, ctx, ns, "renew")

	// cert-manager's controllers write the status too: on a conflict, read
	// it again and retry.
	var cert cmapi.Certificate
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := f.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "renew"}, &cert); err != nil {
			return err
		}
		cert.Status.Conditions = append(cert.Status.Conditions, cmapi.CertificateCondition{
			Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue,
			Reason: "ManuallyTriggered", Message: "Certificate re-issuance manually triggered",
			LastTransitionTime: &metav1.Time{Time: time.Now()}, ObservedGeneration: cert.Generation,
		})
		return f.Client.Status().Update(ctx, &cert)
	})
	if err != nil {
		t.Fatal(err)
	}
	err = framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "renew"}, &cert); err != nil {
			return false, err.Error(), nil
		}
		rev := cert.Status.Revision
		return rev != nil && *rev == 2, "waiting for revision 2", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	_, second := issued(t, ctx, ns, "renew")
	if second.Leaf.SerialNumber.Cmp(first.Leaf.SerialNumber) == 0 {
		t.Fatal("renewal returned the same certificate")
	}
	if n := orders.count("renew.example.com"); n != 2 {
		t.Errorf("orders for renew.example.com: %d, want 2 (one per issuance)", n)
	}
}
