package controllers_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// TestFaultsAndThrottling: with 30% of calls failing (some after the action
// took effect) and throttling, every request is still issued, none fails,
// no order is placed twice, and the calls per certificate stay bounded.
func TestFaultsAndThrottling(t *testing.T) {
	testKeys(t)
	// Enough calls that a 30 % fault rate cannot miss them all (0.7^30 ≈ 2e-5).
	const n = 12
	sim, url := startSim(t, aliyunsim.Config{
		Packages:  map[string]aliyunsim.Package{"globalsign-dv-w-advanced": {Quota: 2 * n, MaxNames: 5}},
		FaultHang: time.Second,
	})
	opts := testOptions()
	opts.RateLimit, opts.Burst = 20, 5
	opts.CallTimeout = 3 * time.Second
	startManager(t, opts)
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "faulty", issuerSpec(url, "globalsign-dv-w-advanced"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")

	sim.SetFaultRate(0.3)
	sim.SetThrottleQPS(4)
	for i := range n {
		name := fmt.Sprintf("faulty-%d", i)
		names := []string{name + ".example.com", name + "-alt.example.com"}
		createCR(t, ns, name, ref, makeCSR(t, csrSpec{key: keys.p256, cn: names[0], dns: names}))
		approve(t, keyOf(ns, name))
	}

	// Watch every request until all are issued; none may ever be Failed.
	deadline := time.Now().Add(3 * time.Minute)
	for {
		var list cmapi.CertificateRequestList
		if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
			t.Fatal(err)
		}
		issued := 0
		for i := range list.Items {
			cr := &list.Items[i]
			c := readyCond(cr)
			if c != nil && (c.Reason == cmapi.CertificateRequestReasonFailed || cr.Status.FailureTime != nil) {
				t.Fatalf("%s failed under transient faults: %s", cr.Name, c.Message)
			}
			if c != nil && c.Reason == cmapi.CertificateRequestReasonIssued {
				issued++
			}
		}
		if issued == n {
			break
		}
		if time.Now().After(deadline) {
			for i := range list.Items {
				t.Logf("%s: %s", list.Items[i].Name, describeCR(&list.Items[i]))
			}
			t.Fatalf("%d of %d issued", issued, n)
		}
		time.Sleep(200 * time.Millisecond)
	}
	sim.SetFaultRate(0)
	sim.SetThrottleQPS(0)

	st := sim.State()
	total := 0
	for _, c := range st.Calls {
		total += c
	}
	t.Logf("calls %v, errors %v, throttled %d, faults %d", st.Calls, st.Errors, st.Throttled, st.Faults)
	if len(st.Orders) != n {
		t.Errorf("%d orders for %d requests: an order was placed twice", len(st.Orders), n)
	}
	if st.Faults == 0 || st.Throttled == 0 {
		t.Errorf("the test injected no faults (%d) or throttling (%d)", st.Faults, st.Throttled)
	}
	if perCert := float64(total) / n; perCert > 25 {
		t.Errorf("%.1f calls per certificate", perCert)
	}
	// Every issued request names its order.
	for i := range n {
		eventually(t, 5*time.Second, func() (bool, string) {
			cr := getCR(t, keyOf(ns, fmt.Sprintf("faulty-%d", i)))
			return cr.Annotations[v1alpha1.AnnotationOrderID] != "", cr.Name + " issued without an order id"
		})
	}
}
