package controllers_test

import (
	"context"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// TestApproval: nothing is ordered before approval; a denied request is
// terminal and gives back the order it held.
func TestApproval(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{
		Validation: aliyunsim.ValidationDNS, // orders stay pending until cancelled
		Packages:   map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}},
	})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "approval", issuerSpec(url, "digicert-free-1-free"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")

	t.Run("not approved", func(t *testing.T) {
		key := createCR(t, ns, "unapproved", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "unapproved.example.com"}))
		waitCR(t, key, cmapi.CertificateRequestReasonPending, "waiting for approval", 20*time.Second)
		consistently(t, 3*time.Second, func() (bool, string) {
			st := sim.State()
			return st.Calls["CreateCertificateWithCsrRequest"] == 0 && len(st.Orders) == 0, "an unapproved request was ordered"
		})
		if cr := getCR(t, key); len(cr.Annotations) != 0 || len(cr.Finalizers) != 0 {
			t.Errorf("an unapproved request got state: %v %v", cr.Annotations, cr.Finalizers)
		}
	})

	t.Run("denied before approval", func(t *testing.T) {
		key := createCR(t, ns, "denied", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "denied.example.com"}))
		setDecision(t, key, cmapi.CertificateRequestConditionDenied, false)
		cr := waitCR(t, key, cmapi.CertificateRequestReasonDenied, "denied", 20*time.Second)
		if cr.Status.FailureTime == nil || readyCond(cr).Status != "False" {
			t.Errorf("denied request lacks failureTime or is not Ready=False: %+v", cr.Status)
		}
		if n := orderCount(sim); n != 0 {
			t.Errorf("%d orders for denied requests", n)
		}
	})

	t.Run("denied with an order pending", func(t *testing.T) {
		key := createCR(t, ns, "late-deny", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "late.example.com"}))
		approve(t, key)
		waitCR(t, key, cmapi.CertificateRequestReasonPending, "_dnsauth.late.example.com", 30*time.Second)
		if p := sim.State().Packages["digicert-free-1-free"]; p.Used != 1 {
			t.Fatalf("package used %d, want 1 while the order is pending", p.Used)
		}
		setDecision(t, key, cmapi.CertificateRequestConditionDenied, true)
		cr := waitCR(t, key, cmapi.CertificateRequestReasonDenied, "", 20*time.Second)
		if cr.Status.FailureTime == nil {
			t.Errorf("no failureTime")
		}
		eventually(t, 20*time.Second, func() (bool, string) {
			st := sim.State()
			cr := getCR(t, key)
			return st.Packages["digicert-free-1-free"].Used == 0 && len(st.Orders) == 0 &&
					!controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder),
				"order not cancelled or finalizer left"
		})
		if len(eventsFor(t, ns, "late-deny", "OrderCancelled")) == 0 {
			eventually(t, 5*time.Second, func() (bool, string) {
				return len(eventsFor(t, ns, "late-deny", "OrderCancelled")) > 0, "no OrderCancelled event"
			})
		}
		// Terminal: nothing more happens to it.
		calls := sim.State().Calls
		consistently(t, 2*time.Second, func() (bool, string) {
			now := sim.State().Calls
			return now["CreateCertificateWithCsrRequest"] == calls["CreateCertificateWithCsrRequest"], "a denied request was ordered again"
		})
	})

	t.Run("deleted with an order pending", func(t *testing.T) {
		key := createCR(t, ns, "deleted", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "deleted.example.com"}))
		approve(t, key)
		cr := waitCR(t, key, cmapi.CertificateRequestReasonPending, "_dnsauth.deleted.example.com", 30*time.Second)
		if !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) {
			t.Fatalf("no finalizer on a request with a pending order")
		}
		if err := env.Client.Delete(context.Background(), cr); err != nil {
			t.Fatal(err)
		}
		eventually(t, 20*time.Second, func() (bool, string) {
			err := env.Client.Get(context.Background(), key, &cmapi.CertificateRequest{})
			return apierrors.IsNotFound(err), "request still exists"
		})
		st := sim.State()
		if len(st.Orders) != 0 || st.Packages["digicert-free-1-free"].Used != 0 {
			t.Errorf("order not cancelled on deletion: orders %v, package %+v", st.Orders, st.Packages["digicert-free-1-free"])
		}
	})

	// The unapproved request, approved at last, goes ahead.
	key := client.ObjectKey{Namespace: ns, Name: "unapproved"}
	approve(t, key)
	waitCR(t, key, cmapi.CertificateRequestReasonPending, "_dnsauth.unapproved.example.com", 30*time.Second)
}
