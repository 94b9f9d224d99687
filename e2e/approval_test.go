package e2e_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// withoutApprover runs fn with cert-manager's approver switched off, as in
// clusters that approve with a policy engine, and restores it afterwards.
func withoutApprover(t *testing.T, ctx context.Context, fn func()) {
	t.Helper()
	if err := f.CertManager.Stop(); err != nil {
		t.Fatal(err)
	}
	var rest []string
	for _, c := range framework.DefaultCertManagerControllers {
		if c != framework.Approver {
			rest = append(rest, c)
		}
	}
	restart := func(names []string) {
		cm, err := framework.StartCertManager(context.Background(), framework.CertManagerOptions{
			Kubeconfig: f.Kubeconfig, Controllers: names, ClusterResourceNamespace: framework.ClusterResourceNamespace,
			MinimumBackoff: 5 * time.Second,
		})
		if err != nil {
			t.Fatal(err)
		}
		f.CertManager = cm
	}
	restart(rest)
	defer func() {
		if err := f.CertManager.Stop(); err != nil {
			t.Error(err)
		}
		restart(nil)
	}()
	fn()
}

// TestApproval: with no approver a request stays unsigned and nothing is
// ordered; a denied request fails with reason Denied and is never ordered.
func TestApproval(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	ref := clusterIssuer(t, ctx, "aliyun-cas", freeProduct)
	orders := ordersFromNow()
	withoutApprover(t, ctx, func() {
		certificate(t, ctx, ns, "unapproved", ref, "unapproved.example.com")
		cr := waitRequest(t, ctx, ns, "unapproved")

		// Ample time for the issuer (with its 1 s poll interval) to act,
		// wrongly, on the unapproved request.
		err := framework.Consistently(ctx, 5*time.Second, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			if err := f.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
				return false, "", err
			}
			if len(cr.Status.Certificate) > 0 {
				return false, "an unapproved request was signed", nil
			}
			n := orders.count("unapproved.example.com")
			return n == 0, fmt.Sprintf("%d order(s) placed for an unapproved request", n), nil
		})
		if err != nil {
			t.Fatal(err)
		}

		// The issuer may write the request's status meanwhile: on a
		// conflict, read it again and retry.
		err = retry.RetryOnConflict(retry.DefaultRetry, func() error {
			if err := f.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
				return err
			}
			cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
				Type: cmapi.CertificateRequestConditionDenied, Status: cmmeta.ConditionTrue,
				Reason: "PolicyDenied", Message: "denied by the e2e test", LastTransitionTime: &metav1.Time{Time: time.Now()},
			})
			return f.Client.Status().Update(ctx, cr)
		})
		if err != nil {
			t.Fatal(err)
		}
		err = framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
			if err := f.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
				return false, err.Error(), nil
			}
			for _, c := range cr.Status.Conditions {
				if c.Type == cmapi.CertificateRequestConditionReady {
					return c.Status == cmmeta.ConditionFalse && c.Reason == cmapi.CertificateRequestReasonDenied, c.Reason + ": " + c.Message, nil
				}
			}
			return false, "no Ready condition", nil
		})
		if err != nil {
			t.Fatalf("denied request: %v", err)
		}
		if cr.Status.FailureTime == nil {
			t.Error("denied request has no failureTime")
		}
		if n := orders.count("unapproved.example.com"); n != 0 {
			t.Fatalf("%d order(s) placed for a denied request", n)
		}
		// cert-manager would retry the Certificate after its backoff: the
		// scenario is over, so it goes.
		cert := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "unapproved"}}
		if err := f.Client.Delete(ctx, cert); err != nil {
			t.Fatal(err)
		}
	})
}

// waitRequest waits for the CertificateRequest cert-manager made for a
// Certificate.
func waitRequest(t *testing.T, ctx context.Context, ns, certName string) *cmapi.CertificateRequest {
	t.Helper()
	var found *cmapi.CertificateRequest
	err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		var list cmapi.CertificateRequestList
		if err := f.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error(), nil
		}
		for i := range list.Items {
			cr := &list.Items[i]
			if slices.ContainsFunc(cr.OwnerReferences, func(o metav1.OwnerReference) bool { return o.Name == certName }) {
				found = cr
				return true, "", nil
			}
		}
		return false, "no CertificateRequest yet", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return found
}
