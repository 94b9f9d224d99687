package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// TestManualDNSValidation: in DNS validation mode the request says exactly
// which TXT record to create; once a person creates it, the certificate is
// issued.
func TestManualDNSValidation(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	ref := clusterIssuer(t, ctx, "aliyun-cas", freeProduct)
	f.Sim.SetValidation(aliyunsim.ValidationDNS)
	defer f.Sim.SetValidation(aliyunsim.ValidationAuto)

	const domain = "manual-dns.example.com"
	orders := ordersFromNow()
	certificate(t, ctx, ns, "manual", ref, domain)
	cr := waitRequest(t, ctx, ns, "manual")

	var token string
	err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
			return false, err.Error(), nil
		}
		for _, o := range orders.placed(domain) {
			if o.Domains[0] == domain {
				token = o.Token
			}
		}
		msg := readyMessage(cr)
		return token != "" && strings.Contains(msg, "_dnsauth."+domain) && strings.Contains(msg, token), msg, nil
	})
	if err != nil {
		t.Fatalf("pending message does not name the record and its value: %v", err)
	}
	if len(cr.Status.Certificate) > 0 {
		t.Fatal("issued before the record exists")
	}
	if err := f.AddDNSRecord("example.com", "_dnsauth."+domain, "TXT", token); err != nil {
		t.Fatal(err)
	}
	issued(t, ctx, ns, "manual")
	if n := orders.count(domain); n != 1 {
		t.Errorf("orders for %s: %d, want 1", domain, n)
	}
}

func readyMessage(cr *cmapi.CertificateRequest) string {
	for _, c := range cr.Status.Conditions {
		if c.Type == cmapi.CertificateRequestConditionReady {
			return c.Reason + ": " + c.Message
		}
	}
	return ""
}

// TestIssuerRestartMidOrder: the issuer process is killed while an order is
// pending; a new process resumes it, and exactly one order was placed.
func TestIssuerRestartMidOrder(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	ref := clusterIssuer(t, ctx, "aliyun-cas", freeProduct)
	f.Sim.SetDelays(6*time.Second, 0)
	defer f.Sim.SetDelays(0, 0)

	const domain = "restart.example.com"
	orders := ordersFromNow()
	certificate(t, ctx, ns, "restart", ref, domain)
	err := framework.Poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		return orders.count(domain) > 0, "no order yet", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	f.Issuer.Kill()
	if err := f.StartIssuer(ctx); err != nil {
		t.Fatal(err)
	}
	issued(t, ctx, ns, "restart")
	if n := orders.count(domain); n != 1 {
		t.Fatalf("orders for %s after a restart: %d, want 1", domain, n)
	}
}
