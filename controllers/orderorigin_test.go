package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// An issuer edited while one of its orders is open: orderAPI CSR becomes
// Instance and the endpoint another Alibaba Cloud endpoint (the same
// account: the same keys). The open order is finished, or cancelled, with
// what it was placed with; nothing is ordered at the new endpoint, and the
// request says why.

// editedIssuer starts an issuer at one simulator, a request whose CSR order
// waits there for validation, then moves the issuer to orderAPI Instance at
// a second simulator. It returns both simulators and the request.
func editedIssuer(t *testing.T, name string, opts controllers.Options, beforeEdit func()) (old, now *aliyunsim.Simulator, ns string, cr *cmapi.CertificateRequest) {
	t.Helper()
	testKeys(t)
	old, oldURL := startSim(t, aliyunsim.Config{Validation: aliyunsim.ValidationDNS})
	now, newURL := startSim(t, instanceSimConfig(2))
	startManager(t, opts)
	ns = newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "moving", issuerSpec(oldURL, "digicert-free-1-free"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")

	key := createCR(t, ns, name, ref, makeCSR(t, csrSpec{key: keys.p256, cn: name + ".example.com"}), forCertificate(name))
	approve(t, key)
	pending := waitCR(t, key, cmapi.CertificateRequestReasonPending, "_dnsauth", 30*time.Second)
	orderID := orderIDOf(pending)
	if orderID == "" || orderCount(old) != 1 {
		t.Fatalf("order %q, %d orders at the first endpoint", orderID, orderCount(old))
	}
	if beforeEdit != nil {
		beforeEdit()
	}

	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		iss := getIssuer(t, ns, ref)
		spec := iss.GetSpec()
		spec.OrderAPI, spec.Endpoint = v1alpha1.OrderAPIInstance, newURL
		return env.Client.Update(context.Background(), iss)
	})
	if err != nil {
		t.Fatalf("editing the issuer: %v", err)
	}
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	// The request says that its order is followed where it was placed.
	cr = waitCR(t, key, cmapi.CertificateRequestReasonPending, "IssuerChanged", 30*time.Second)
	if msg := readyCond(cr).Message; !strings.Contains(msg, "CAS order "+orderID) || !strings.Contains(msg, oldURL) {
		t.Errorf("the condition does not say which order is followed with what: %q", msg)
	}
	return old, now, ns, cr
}

func TestIssuerEditedFinishesOpenOrder(t *testing.T) {
	old, now, ns, cr := editedIssuer(t, "finish", testOptions(), nil)
	orderID := orderIDOf(cr)

	old.SetValidation(aliyunsim.ValidationAuto)
	issued := waitIssued(t, keyOf(ns, cr.Name))
	verifyIssued(t, old, issued, keys.p256, []string{"finish.example.com"})
	if got := orderIDOf(issued); got != orderID {
		t.Errorf("issued from order %q, the open one was %q", got, orderID)
	}
	if n := orderCount(old); n != 1 {
		t.Errorf("%d orders at the first endpoint, want the one placed before the edit", n)
	}
	apps, applied := simApplications(now)
	if len(now.State().Orders) != 0 || applied != 0 {
		t.Errorf("ordered again at the new endpoint: orders %v, applications %v", now.State().Orders, apps)
	}
}

func TestIssuerEditedCancelsOpenOrder(t *testing.T) {
	old, now, ns, cr := editedIssuer(t, "cancel", testOptions(), nil)
	if err := env.Client.Delete(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), keyOf(ns, cr.Name), &cmapi.CertificateRequest{})
		st := old.State()
		return apierrors.IsNotFound(err) && len(st.Orders) == 0,
			fmt.Sprintf("request gone: %v; orders at the first endpoint %v", apierrors.IsNotFound(err), st.Orders)
	})
	if used := old.State().Packages["digicert-free-1-free"].Used; used != 0 {
		t.Errorf("the cancelled order's quota is not returned: %d used", used)
	}
	apps, applied := simApplications(now)
	if len(now.State().Orders) != 0 || applied != 0 {
		t.Errorf("something happened at the new endpoint: orders %v, applications %v", now.State().Orders, apps)
	}
}

// TestIssuerEditedWaitsWhenOldOrderCannotBeFollowed: when no signer can be
// built for what the open order was placed with, the request waits with
// IssuerChanged and nothing is ordered; once one can, it finishes the order.
func TestIssuerEditedWaitsWhenOldOrderCannotBeFollowed(t *testing.T) {
	var refuseCSR atomic.Bool
	opts := testOptions()
	opts.NewSigner = func(cfg signer.Config) (signer.Signer, error) {
		if refuseCSR.Load() && cfg.OrderAPI == signer.OrderAPICSR {
			return nil, signer.Issuer(signer.ReasonInvalidConfig, errors.New("orderAPI CSR is refused here"))
		}
		return signer.New(cfg)
	}
	// The issuer's first signer (orderAPI CSR) is built; after the order,
	// no CSR signer can be built any more.
	old, now, ns, cr := editedIssuer(t, "wait", opts, func() { refuseCSR.Store(true) })
	orderID := orderIDOf(cr)
	if msg := readyCond(cr).Message; !strings.Contains(msg, "no signer can be built") {
		t.Errorf("the condition does not say why the request waits: %q", msg)
	}
	consistently(t, 2*time.Second, func() (bool, string) {
		_, applied := simApplications(now)
		return orderCount(old) == 1 && applied == 0 && len(now.State().Orders) == 0, "ordered while waiting"
	})
	refuseCSR.Store(false)
	old.SetValidation(aliyunsim.ValidationAuto)
	issued := waitIssued(t, keyOf(ns, cr.Name))
	if got := orderIDOf(issued); got != orderID || orderCount(old) != 1 {
		t.Errorf("issued from order %q (%d orders), the open one was %q", got, orderCount(old), orderID)
	}
}
