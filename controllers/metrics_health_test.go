package controllers_test

import (
	"fmt"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// gauges reads, from the registry the manager serves, the values of a gauge
// for one namespaced issuer, by the value of label by ("" for one series).
func gauges(t *testing.T, name, ns, issuer, by string) map[string]float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatalf("gathering metrics: %v", err)
	}
	out := map[string]float64{}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["kind"] == v1alpha1.IssuerKind && l["namespace"] == ns && l["name"] == issuer {
				out[l[by]] = m.GetGauge().GetValue()
			}
		}
	}
	return out
}

// waitGauges polls until the issuer's gauge series are exactly want.
func waitGauges(t *testing.T, name, ns, issuer, by string, want map[string]float64) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		got := gauges(t, name, ns, issuer, by)
		return fmt.Sprint(got) == fmt.Sprint(want), fmt.Sprintf("%s = %v, want %v", name, got, want)
	})
}

// healthMetricsInterval re-checks issuers often, so the gauges follow the account.
const healthMetricsInterval = 500 * time.Millisecond

func TestInstanceMetricsFollowTheAccount(t *testing.T) {
	testKeys(t)
	_, url := startSim(t, instanceSimConfig(3))
	opts := testOptions()
	opts.HealthCheckInterval = healthMetricsInterval
	startManager(t, opts)
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "v2", instanceIssuerSpec(url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	const m = "aliyun_cas_issuer_instances"
	waitGauges(t, m, ns, ref.Name, "state", map[string]float64{"usable": 3, "in_flight": 0, "issued": 0, "other": 0})

	web := []string{"web.example.com"}
	createCR(t, ns, "web-1", ref, makeCSR(t, csrSpec{key: keys.p256, cn: web[0], dns: web}), forCertificate("web"))
	approve(t, keyOf(ns, "web-1"))
	waitIssued(t, keyOf(ns, "web-1"))
	waitGauges(t, m, ns, ref.Name, "state", map[string]float64{"usable": 2, "in_flight": 0, "issued": 1, "other": 0})
	if got := gauges(t, m, ns, ref.Name, "api"); len(got) != 1 || got[string(v1alpha1.OrderAPIInstance)] == 0 {
		t.Errorf("api labels %v", got)
	}
	if got := gauges(t, "aliyun_cas_issuer_package_quota_remaining", ns, ref.Name, ""); len(got) != 0 {
		t.Errorf("quota of an Instance issuer: %v", got)
	}

	// A deleted issuer's series go.
	if err := env.Client.Delete(t.Context(), getIssuer(t, ns, ref)); err != nil {
		t.Fatal(err)
	}
	waitGauges(t, m, ns, ref.Name, "state", map[string]float64{})
	waitGauges(t, "aliyun_cas_issuer_issuer_ready", ns, ref.Name, "", map[string]float64{})
}

func TestQuotaMetricFollowsThePackage(t *testing.T) {
	testKeys(t)
	_, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{aliyunsim.DefaultProduct: {Quota: 5}}})
	opts := testOptions()
	opts.HealthCheckInterval = healthMetricsInterval
	startManager(t, opts)
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "v1", issuerSpec(url, aliyunsim.DefaultProduct))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	const m = "aliyun_cas_issuer_package_quota_remaining"
	waitGauges(t, m, ns, ref.Name, "api", map[string]float64{string(v1alpha1.OrderAPICSR): 5})

	name := "www.example.com"
	createCR(t, ns, "www-1", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: name, dns: []string{name}}))
	approve(t, keyOf(ns, "www-1"))
	waitIssued(t, keyOf(ns, "www-1"))
	waitGauges(t, m, ns, ref.Name, "api", map[string]float64{string(v1alpha1.OrderAPICSR): 4})
	if got := gauges(t, "aliyun_cas_issuer_instances", ns, ref.Name, "state"); len(got) != 0 {
		t.Errorf("instances of a CSR issuer: %v", got)
	}
}
