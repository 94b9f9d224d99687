package controllers_test

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// A request denied after its application was submitted ends Denied at once; its application
// is withdrawn, asked again while the instance refuses (as CAS does in the seconds after the
// records appear), and its Alidns record removed; the instance can take another application.
func TestInstanceDeniedMidValidation(t *testing.T) {
	testKeys(t)
	// The simulator's clock runs with real time, ahead by what the test adds: the refusal
	// lasts until the test moves the clock past it.
	var ahead atomic.Int64
	cfg := instanceAlidnsSimConfig()
	cfg.V2.CancelRefusal = 10 * time.Minute
	cfg.Now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
	sim, _, ns, ref := startInstanceAlidnsIssuer(t, cfg)
	key := createCR(t, ns, "deny", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "deny.example.com"}), forCertificate("deny"))
	approve(t, key)
	cr := waitCR(t, key, cmapi.CertificateRequestReasonPending, "created DNS TXT record _dnsauth.deny.example.com", 30*time.Second)
	id := cr.Annotations[v1alpha1.AnnotationInstanceID]
	if id == "" || len(sim.State().Records) != 1 || instanceStatus(sim, id) != "pending" {
		t.Fatalf("before the denial: instance %q (%s), records %+v", id, instanceStatus(sim, id), sim.State().Records)
	}

	setDecision(t, key, cmapi.CertificateRequestConditionDenied, true)
	cr = waitCR(t, key, cmapi.CertificateRequestReasonDenied, "", 20*time.Second)
	if c := readyCond(cr); c.Status != "False" || cr.Status.FailureTime == nil {
		t.Fatalf("denied request: %s, failureTime %v", describeCR(cr), cr.Status.FailureTime)
	}
	// Refused, and asked again; the record goes meanwhile, the request keeps its finalizer.
	eventually(t, 20*time.Second, func() (bool, string) {
		st := sim.State()
		return st.Errors["OperationDenied.StatusNotSupport"] >= 2 && len(st.Records) == 0,
			fmt.Sprintf("refusals %d, records %+v", st.Errors["OperationDenied.StatusNotSupport"], st.Records)
	})
	if cr := getCR(t, key); !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) || instanceStatus(sim, id) != "pending" {
		t.Fatalf("while CAS refuses the withdrawal: finalizers %v, instance %s", cr.Finalizers, instanceStatus(sim, id))
	}

	ahead.Store(int64(11 * time.Minute)) // past the refusal, well within the signatures' 15 minutes
	eventually(t, 30*time.Second, func() (bool, string) {
		cr := getCR(t, key)
		return instanceStatus(sim, id) == "inactive" && !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder),
			fmt.Sprintf("instance %s, finalizers %v, calls %v", instanceStatus(sim, id), cr.Finalizers, sim.State().Calls)
	})
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(eventsFor(t, ns, "deny", "OrderCancelled")) > 0, "no OrderCancelled event"
	})
	if cr := getCR(t, key); readyCond(cr).Reason != cmapi.CertificateRequestReasonDenied {
		t.Errorf("after the withdrawal: %s", describeCR(cr))
	}
	if _, total := simApplications(sim); total != 1 {
		t.Errorf("%d applications, want 1", total)
	}
}

// instanceStatus is the status the simulator gives instance id ("" when it has none).
func instanceStatus(sim *aliyunsim.Simulator, id string) string {
	for _, i := range sim.State().Instances {
		if i.ID == id {
			return i.Status
		}
	}
	return ""
}
