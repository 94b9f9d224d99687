package controllers_test

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

func TestIssue(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{
		"digicert-free-1-free":     {Quota: 5},
		"globalsign-dv-w-advanced": {Quota: 5, MaxNames: 5},
	}})
	startManager(t, testOptions())
	ns := newNamespace(t)
	ensureNamespace(t, clusterNS)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	createSecret(t, clusterNS, secretName, credentials(testKeyID, testKeySecret))

	free := createIssuer(t, ns, "free", issuerSpec(url, "digicert-free-1-free"))
	multi := createIssuer(t, ns, "multi", issuerSpec(url, "globalsign-dv-w-advanced"))
	cluster := createClusterIssuer(t, ns+"-cluster", issuerSpec(url, "globalsign-dv-w-advanced"))
	// The kind may be left empty: it means AliyunCASIssuer.
	freeNoKind := free
	freeNoKind.Kind = ""

	iss := waitIssuer(t, ns, free, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	if ps := iss.GetStatus().PackageState; ps == nil || ps.Total != 5 || ps.Remaining != 5 {
		t.Errorf("issuer packageState = %+v, want total 5, remaining 5", ps)
	}
	if iss.GetStatus().LastCheckTime == nil || iss.GetStatus().ObservedGeneration != iss.GetGeneration() {
		t.Errorf("issuer status lacks lastCheckTime/observedGeneration: %+v", iss.GetStatus())
	}
	waitIssuer(t, ns, multi, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	waitIssuer(t, "", cluster, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	cases := []struct {
		name  string
		ref   cmmeta.IssuerReference
		key   crypto.Signer
		cn    string
		names []string
	}{
		{"rsa-single", freeNoKind, keys.rsa2048, "www.example.com", []string{"www.example.com"}},
		{"ecdsa-multi", multi, keys.p256, "", []string{"a.example.com", "b.example.com", "c.example.org"}},
		{"rsa-multi-cluster", cluster, keys.rsa2048Other, "shop.example.com", []string{"shop.example.com", "api.example.com", "*.cdn.example.com"}},
		{"ecdsa-p384-cluster", cluster, keys.p384, "p384.example.com", []string{"p384.example.com"}},
	}
	crKeys := map[string]crypto.Signer{}
	for _, tc := range cases {
		csr := makeCSR(t, csrSpec{key: tc.key, cn: tc.cn, dns: tc.names})
		createCR(t, ns, tc.name, tc.ref, csr, withDuration(90*24*time.Hour))
		crKeys[tc.name] = tc.key
	}
	for _, tc := range cases {
		approve(t, keyOf(ns, tc.name))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := waitIssued(t, keyOf(ns, tc.name))
			verifyIssued(t, sim, cr, tc.key, tc.names)
			// The order id of an order issued at its first look is written
			// with the finalizer's removal, just after the certificate.
			eventually(t, 5*time.Second, func() (bool, string) {
				cr := getCR(t, keyOf(ns, tc.name))
				if controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) {
					return false, "finalizer left on an issued request"
				}
				if cr.Annotations[v1alpha1.AnnotationOrderID] == "" {
					return false, fmt.Sprintf("no order id annotation: %v", cr.Annotations)
				}
				if _, ok := cr.Annotations[v1alpha1.AnnotationCreating]; ok {
					return false, "creating mark left after the order id was recorded"
				}
				return true, ""
			})
		})
	}
	// The requested 90 days is not what the 365-day product gives: the
	// Ready condition says so (there is no Issued Event on a
	// CertificateRequest: the condition says the same).
	eventually(t, 5*time.Second, func() (bool, string) {
		c := readyCond(getCR(t, keyOf(ns, "ecdsa-multi")))
		return c != nil && strings.Contains(c.Message, "not honoured"), fmt.Sprintf("the Ready condition does not tell the duration: %+v", c)
	})
	for _, tc := range cases {
		if n := len(eventsFor(t, ns, tc.name, "Issued")); n != 0 {
			t.Errorf("%s: %d Issued Events, want none", tc.name, n)
		}
	}
	st := sim.State()
	if len(st.Orders) != len(cases) || st.Calls["CreateCertificateWithCsrRequest"] != len(cases) {
		t.Errorf("orders = %d, create calls = %d, want %d each", len(st.Orders), st.Calls["CreateCertificateWithCsrRequest"], len(cases))
	}
	if p := st.Packages["globalsign-dv-w-advanced"]; p.Used != 3 || p.Issued != 3 {
		t.Errorf("package state %+v, want used 3 issued 3", p)
	}
}

func keyOf(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// TestPendingValidation: the order waits for a DNS record; the request says
// which, once (one Event), and is issued once the record exists.
func TestPendingValidation(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{
		Validation: aliyunsim.ValidationDNS,
		Packages:   map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}},
	})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "dns", issuerSpec(url, "digicert-free-1-free"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")

	names := []string{"www.example.com"}
	createCR(t, ns, "www", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "www.example.com", dns: names}))
	approve(t, keyOf(ns, "www"))
	cr := waitCR(t, keyOf(ns, "www"), cmapi.CertificateRequestReasonPending, "create DNS TXT record _dnsauth.www.example.com = ", 30*time.Second)
	msg := readyCond(cr).Message
	if !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) {
		t.Errorf("no cancel-order finalizer while the order is pending")
	}
	value := strings.Fields(strings.SplitN(msg, " = ", 2)[1])[0]

	// Several polls pass: the message does not change, so nothing is
	// written (no status write, no Event per poll), and the condition
	// alone tells what to do: a record for a person to create is not an
	// Event.
	polls := sim.State().Calls["DescribeCertificateState"]
	eventually(t, 20*time.Second, func() (bool, string) {
		n := sim.State().Calls["DescribeCertificateState"]
		return n >= polls+3, "waiting for more polls"
	})
	if now := getCR(t, keyOf(ns, "www")); now.ResourceVersion != cr.ResourceVersion {
		t.Errorf("the request was written while its order waited (resourceVersion %s, then %s): %+v", cr.ResourceVersion, now.ResourceVersion, now.Status.Conditions)
	}
	if evs := eventsFor(t, ns, "www", signer.ReasonDomainVerify); len(evs) != 0 {
		t.Errorf("a pending step the condition tells got an Event: %+v", evs)
	}

	// The user creates the record (with the official SDK, as a person's
	// tooling would).
	addRecordAsUser(t, url, "example.com", "_dnsauth.www", "TXT", value)
	cr = waitIssued(t, keyOf(ns, "www"))
	verifyIssued(t, sim, cr, keys.p256, names)
	if n := len(sim.State().Orders); n != 1 {
		t.Errorf("%d orders, want 1", n)
	}
}

// TestRestartMidFlight: the manager dies after the create call but before
// the order id is recorded; the next manager finds the order instead of
// ordering again.
func TestRestartMidFlight(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}}})
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "restart", issuerSpec(url, "digicert-free-1-free"))

	opts, crashed := crashOnce(func(s signer.Signer, crash func()) signer.Signer {
		return &crashingSigner{Signer: s, crash: crash}
	})
	m1 := startManager(t, opts)
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	names := []string{"restart.example.com"}
	createCR(t, ns, "restart", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}))
	approve(t, keyOf(ns, "restart"))
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("the create call never happened")
	}
	m1.stop(t)

	cr := getCR(t, keyOf(ns, "restart"))
	if cr.Annotations[v1alpha1.AnnotationCreating] == "" || cr.Annotations[v1alpha1.AnnotationOrderID] != "" {
		t.Fatalf("after the crash the request should hold a creating mark and no order id: %v", cr.Annotations)
	}
	if !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) {
		t.Errorf("the finalizer was not added before the create call")
	}
	if n := orderCount(sim); n != 1 {
		t.Fatalf("%d orders after the crash, want 1", n)
	}

	startManager(t, testOptions())
	cr = waitIssued(t, keyOf(ns, "restart"))
	verifyIssued(t, sim, cr, keys.rsa2048, names)
	st := sim.State()
	if len(st.Orders) != 1 || st.Calls["CreateCertificateWithCsrRequest"] != 1 {
		t.Errorf("orders = %d, create calls = %d; want exactly one of each", len(st.Orders), st.Calls["CreateCertificateWithCsrRequest"])
	}
	if orderIDOf(cr) != st.Orders[0].ID {
		t.Errorf("recorded order id %q, simulator has %q", orderIDOf(cr), st.Orders[0].ID)
	}
}

// crashingSigner stands for a process that dies right after the create call
// answered: the order id is never written (it would ride on the status write
// after the first look, which the dying process never gets to).
type crashingSigner struct {
	signer.Signer
	crash func()
}

func (s *crashingSigner) Sign(ctx context.Context, req signer.Request, store signer.StateStore) (signer.Outcome, error) {
	cs := &crashingStore{StateStore: store, crash: s.crash}
	res, err := s.Signer.Sign(ctx, req, cs)
	if cs.crashed.Load() {
		return signer.Outcome{}, errors.New("process died")
	}
	return res, err
}

type crashingStore struct {
	signer.StateStore
	crash   func()
	crashed atomic.Bool
}

func (s *crashingStore) Save(ctx context.Context, st signer.OrderState) error {
	if st.OrderID != "" || s.crashed.Load() {
		s.die()
		return errors.New("process died")
	}
	return s.StateStore.Save(ctx, st)
}

// Learn: the order id is known; the process dies before any write carries it.
func (s *crashingStore) Learn(st signer.OrderState) {
	if st.OrderID != "" || s.crashed.Load() {
		s.die()
		return
	}
	s.StateStore.Learn(st)
}

func (s *crashingStore) die() {
	if !s.crashed.Swap(true) {
		s.crash()
	}
}

// addRecordAsUser creates a DNS record in the simulator's Alidns with the
// official SDK, as a person's tooling would (manual validation).
func addRecordAsUser(t *testing.T, url, zone, rr, typ, value string) {
	t.Helper()
	c, err := aliyun.New(aliyun.Options{
		Endpoint: url, DNSEndpoint: url,
		Credentials: aliyun.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testKeySecret},
		Endpoints:   aliyun.EndpointPolicy{AllowInsecure: true}, // the simulator serves http
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddDomainRecord(context.Background(), aliyun.NewRecord{DomainName: zone, RR: rr, Type: typ, Value: value}); err != nil {
		t.Fatalf("adding the record: %v", err)
	}
}
