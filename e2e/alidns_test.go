package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// alidnsClusterIssuer creates a cluster issuer whose DNS validation records
// the issuer creates itself in the simulator's Alidns, checking their
// propagation against the simulator's name server.
func alidnsClusterIssuer(t *testing.T, ctx context.Context, name string) *v1alpha1.AliyunCASClusterIssuer {
	t.Helper()
	secret := credentials(t, ctx, framework.ClusterResourceNamespace)
	spec := issuerSpec(secret, freeProduct)
	spec.Validation = v1alpha1.Validation{Method: v1alpha1.ValidationMethodDNS, DNS: &v1alpha1.DNSValidation{
		Provider: v1alpha1.DNSProviderAlidns,
		Alidns:   &v1alpha1.AlidnsDNS{Endpoint: f.SimURL, Nameservers: []string{f.Sim.DNSAddr()}},
	}}
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := f.Client.Create(ctx, iss); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	waitIssuerReady(t, ctx, iss)
	return iss
}

func recordsNamed(name string) int {
	n := 0
	for _, r := range f.Sim.State().Records {
		if r.RR+"."+r.Zone == name {
			n++
		}
	}
	return n
}

// TestAlidnsValidation: with provider alidns a Certificate is issued with
// no human step; the record exists while the CA validates and is removed
// afterwards. A name in no zone of the account fails without an order.
func TestAlidnsValidation(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	iss := alidnsClusterIssuer(t, ctx, "aliyun-cas-alidns")
	ref := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AliyunCASClusterIssuer", Name: iss.Name}
	f.Sim.SetValidation(aliyunsim.ValidationDNS)
	defer f.Sim.SetValidation(aliyunsim.ValidationAuto)
	// The CA takes a few seconds after the proof, so the record is seen.
	f.Sim.SetDelays(3*time.Second, 0)
	defer f.Sim.SetDelays(0, 0)

	const domain = "alidns.example.com"
	const record = "_dnsauth." + domain
	orders := ordersFromNow()
	certificate(t, ctx, ns, "alidns", ref, domain)
	err := framework.Poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		return recordsNamed(record) == 1, "no record " + record + " yet", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cr := waitRequest(t, ctx, ns, "alidns")
	err = framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
			return false, err.Error(), nil
		}
		msg := readyMessage(cr)
		return strings.Contains(msg, "created DNS TXT record "+record+" in Alidns zone example.com") || len(cr.Status.Certificate) > 0, msg, nil
	})
	if err != nil {
		t.Fatalf("pending message does not say the record was created: %v", err)
	}
	issued(t, ctx, ns, "alidns")
	err = framework.Poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		return recordsNamed(record) == 0, "record " + record + " still exists", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := orders.count(domain); n != 1 {
		t.Errorf("orders for %s: %d, want 1", domain, n)
	}

	// A name no zone of the account covers: a clear failure, no order.
	const other = "www.other.net"
	otherCert := certificate(t, ctx, ns, "other", ref, other)
	cr = waitRequest(t, ctx, ns, "other")
	err = framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
			return false, err.Error(), nil
		}
		msg := readyMessage(cr)
		return strings.Contains(msg, "DNSZoneNotFound: no Alidns zone of this account covers "+other), msg, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := orders.count(other); n != 0 {
		t.Errorf("orders for %s: %d, want 0", other, n)
	}
	// cert-manager would retry it for ever.
	if err := f.Client.Delete(ctx, otherCert); err != nil {
		t.Error(err)
	}
}
