package controllers_test

import (
	"context"
	"crypto"
	"fmt"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// cert-manager deletes a CertificateRequest whose order is open and creates
// it again, same name, for the same Certificate revision and key: the order
// is handed over to the new request, never cancelled and placed again. A
// request of another key, other names or another namespace takes nothing:
// the old order is cancelled and the new request orders its own.

// handoverSetup is an issuer whose orders wait for validation, with a
// Certificate "web" in a fresh namespace.
type handoverSetup struct {
	sim  *aliyunsim.Simulator
	ns   string
	ref  cmmeta.IssuerReference
	cert *cmapi.Certificate
}

func newHandoverSetup(t *testing.T, wait time.Duration) (*handoverSetup, func() *manager) {
	t.Helper()
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Validation: aliyunsim.ValidationDNS})
	opts := testOptions()
	opts.HandoverWait = wait
	start := func() *manager { return startManager(t, opts) }
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	s := &handoverSetup{sim: sim, ns: ns, ref: createIssuer(t, ns, "handover", issuerSpec(url, "digicert-free-1-free"))}
	s.cert = createCertificate(t, ns, "web")
	return s, start
}

func createCertificate(t *testing.T, ns, name string) *cmapi.Certificate {
	t.Helper()
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cmapi.CertificateSpec{SecretName: name + "-tls", DNSNames: []string{name + ".example.com"},
			IssuerRef: cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.IssuerKind, Name: "handover"}},
	}
	if err := env.Client.Create(context.Background(), cert); err != nil {
		t.Fatalf("creating Certificate %s: %v", name, err)
	}
	return cert
}

// revisionOf makes a request cert-manager's for revision rev of the
// Certificate with this UID (which need not be in the request's namespace:
// a forged owner reference).
func revisionOf(uid types.UID, certName, rev string) crOption {
	return func(cr *cmapi.CertificateRequest) {
		if cr.Annotations == nil {
			cr.Annotations = map[string]string{}
		}
		cr.Annotations[cmapi.CertificateRequestRevisionAnnotationKey] = rev
		cr.Annotations[cmapi.CertificateNameKey] = certName
		yes := true
		cr.OwnerReferences = []metav1.OwnerReference{{APIVersion: cmapi.SchemeGroupVersion.String(), Kind: cmapi.CertificateKind,
			Name: certName, UID: uid, Controller: &yes, BlockOwnerDeletion: &yes}}
	}
}

// pendingRequest creates and approves a request of revision 1 of web for
// key and waits for its order.
func (s *handoverSetup) pendingRequest(t *testing.T, ns, name string, key crypto.Signer, owner types.UID) (client.ObjectKey, string) {
	t.Helper()
	return s.pendingRequestFor(t, ns, name, key, owner, "web.example.com")
}

// pendingRequestFor is pendingRequest for the name cn.
func (s *handoverSetup) pendingRequestFor(t *testing.T, ns, name string, key crypto.Signer, owner types.UID, cn string) (client.ObjectKey, string) {
	t.Helper()
	k := createCR(t, ns, name, s.ref, makeCSR(t, csrSpec{key: key, cn: cn}), revisionOf(owner, "web", "1"))
	approve(t, k)
	cr := waitCR(t, k, cmapi.CertificateRequestReasonPending, "_dnsauth", 30*time.Second)
	id := orderIDOf(cr)
	if id == "" {
		t.Fatalf("%s pending without an order id", name)
	}
	return k, id
}

// deleteAndWait deletes a request and waits until it is gone.
func deleteAndWait(t *testing.T, key client.ObjectKey) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), &cmapi.CertificateRequest{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), key, &cmapi.CertificateRequest{})
		return apierrors.IsNotFound(err), "request still exists"
	})
}

func simOrderIDs(sim *aliyunsim.Simulator) []string {
	var ids []string
	for _, o := range sim.State().Orders {
		ids = append(ids, o.ID)
	}
	return ids
}

// waitOrders waits until the simulator's orders are want, oldest first
// (cancelled is the handed-over order expected gone).
func waitOrders(t *testing.T, sim *aliyunsim.Simulator, want []string, cancelled string) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		ids := simOrderIDs(sim)
		return fmt.Sprint(ids) == fmt.Sprint(want), fmt.Sprintf("orders %v, want %v (%s cancelled)", ids, want, cancelled)
	})
}

func TestHandoverToRecreatedRequest(t *testing.T) {
	s, start := newHandoverSetup(t, 30*time.Second)
	m := start()
	waitIssuer(t, s.ns, s.ref, metav1.ConditionTrue, "")
	key, orderID := s.pendingRequest(t, s.ns, "web-1", keys.p256, s.cert.UID)

	deleteAndWait(t, key)
	eventually(t, 10*time.Second, func() (bool, string) {
		h := getIssuer(t, s.ns, s.ref).GetStatus().Handovers
		return len(h) == 1, fmt.Sprintf("handovers %+v", h)
	})
	// The controller stops between the deletion and the new request: the
	// handover is durable.
	m.stop(t)
	start()
	if ids := simOrderIDs(s.sim); len(ids) != 1 || ids[0] != orderID {
		t.Fatalf("orders after the deletion %v, want the open order %s kept", ids, orderID)
	}

	createCR(t, s.ns, "web-1", s.ref, makeCSR(t, csrSpec{key: keys.p256, cn: "web.example.com"}), revisionOf(s.cert.UID, "web", "1"))
	approve(t, key)
	eventually(t, 30*time.Second, func() (bool, string) {
		cr := getCR(t, key)
		return orderIDOf(cr) == orderID, "order " + orderIDOf(cr)
	})
	s.sim.SetValidation(aliyunsim.ValidationAuto)
	issued := waitIssued(t, key)
	verifyIssued(t, s.sim, issued, keys.p256, []string{"web.example.com"})
	if ids := simOrderIDs(s.sim); len(ids) != 1 || ids[0] != orderID {
		t.Errorf("orders %v, want only %s", ids, orderID)
	}
	if len(eventsFor(t, s.ns, "web-1", "OrderTakenOver")) == 0 {
		t.Errorf("no OrderTakenOver Event")
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		h := getIssuer(t, s.ns, s.ref).GetStatus().Handovers
		return len(h) == 0, fmt.Sprintf("handovers left %+v", h)
	})
}

func TestNoHandoverToAnotherKeyNamesOrNamespace(t *testing.T) {
	s, start := newHandoverSetup(t, 3*time.Second)
	start()
	waitIssuer(t, s.ns, s.ref, metav1.ConditionTrue, "")

	t.Run("another key", func(t *testing.T) {
		key, old := s.pendingRequest(t, s.ns, "web-1", keys.p256, s.cert.UID)
		deleteAndWait(t, key)
		_, fresh := s.pendingRequest(t, s.ns, "web-1", keys.p384, s.cert.UID)
		if fresh == old {
			t.Fatalf("a request for another key took over order %s", old)
		}
		waitOrders(t, s.sim, []string{fresh}, old)
	})

	t.Run("other names", func(t *testing.T) {
		// The Certificate edited to other names: same revision and key.
		before := simOrderIDs(s.sim)
		key, old := s.pendingRequestFor(t, s.ns, "web-3", keys.rsa2048Other, s.cert.UID, "web.example.com")
		deleteAndWait(t, key)
		_, fresh := s.pendingRequestFor(t, s.ns, "web-3", keys.rsa2048Other, s.cert.UID, "www.example.com")
		if fresh == old {
			t.Fatalf("a request for other names took over order %s", old)
		}
		waitOrders(t, s.sim, append(before, fresh), old)
	})

	t.Run("another namespace", func(t *testing.T) {
		// One ClusterIssuer for both tenants: the record is on it.
		ensureNamespace(t, clusterNS)
		createSecret(t, clusterNS, secretName, credentials(testKeyID, testKeySecret))
		shared := &handoverSetup{sim: s.sim, ns: s.ns, cert: s.cert,
			ref: createClusterIssuer(t, s.ns+"-cluster", issuerSpec(getIssuer(t, s.ns, s.ref).GetSpec().Endpoint, "digicert-free-1-free"))}
		waitIssuer(t, "", shared.ref, metav1.ConditionTrue, "")
		before := simOrderIDs(s.sim)
		key, old := shared.pendingRequest(t, s.ns, "web-2", keys.rsa2048, s.cert.UID)
		deleteAndWait(t, key)
		// Another tenant, with the same key and revision and an owner
		// reference forged to name the Certificate's UID.
		other := newNamespace(t)
		_, fresh := shared.pendingRequest(t, other, "web-2", keys.rsa2048, s.cert.UID)
		if fresh == old {
			t.Fatalf("a request of another namespace took over order %s", old)
		}
		waitOrders(t, s.sim, append(before, fresh), old)
	})
}
