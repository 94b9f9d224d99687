package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// orderAPI Instance (CAS V2.0 subscription instances) through the controllers.

func instanceSimConfig(n int) aliyunsim.Config {
	return aliyunsim.Config{V2: aliyunsim.V2Config{Instances: n, RecordsDelay: 100 * time.Millisecond,
		CancelRefusal: 500 * time.Millisecond, CancelDelay: 300 * time.Millisecond}}
}

// instanceIssuerSpec is an issuer that takes the default order API.
// instanceAlidnsSimConfig is one V2.0 instance whose validation waits an
// hour for its DNS record, served by the simulator's DNS server.
func instanceAlidnsSimConfig() aliyunsim.Config {
	cfg := instanceSimConfig(1)
	cfg.Validation, cfg.ValidationDelay, cfg.DNSListen = aliyunsim.ValidationDNS, time.Hour, "127.0.0.1:0"
	return cfg
}

// startInstanceAlidnsIssuer starts the simulator and the controllers, and a
// Ready orderAPI Instance issuer that validates through Alidns, in a new
// namespace.
func startInstanceAlidnsIssuer(t *testing.T, cfg aliyunsim.Config) (*aliyunsim.Simulator, string, string, cmmeta.IssuerReference) {
	t.Helper()
	sim, url := startSim(t, cfg)
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	spec := instanceIssuerSpec(url)
	spec.Validation = alidnsIssuerSpec(sim, url).Validation
	ref := createIssuer(t, ns, "v2-alidns", spec)
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	return sim, url, ns, ref
}

func instanceIssuerSpec(url string) v1alpha1.IssuerSpec {
	spec := issuerSpec(url, "")
	spec.OrderAPI = ""
	return spec
}

func forCertificate(name string) crOption {
	return func(cr *cmapi.CertificateRequest) {
		if cr.Annotations == nil {
			cr.Annotations = map[string]string{}
		}
		cr.Annotations[cmapi.CertificateNameKey] = name
	}
}

func simApplications(sim *aliyunsim.Simulator) (map[string]int, int) {
	return sim.State().Applications()
}

func TestInstanceIssueRenewAndShare(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, instanceSimConfig(2))
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "v2", instanceIssuerSpec(url))
	iss := waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	if iss.GetSpec().OrderAPI != v1alpha1.OrderAPIInstance {
		t.Fatalf("the default order API is %q", iss.GetSpec().OrderAPI)
	}
	st := iss.GetStatus()
	if st.UsableInstances == nil || *st.UsableInstances != 2 || st.InFlightInstances == nil || *st.InFlightInstances != 0 {
		t.Fatalf("status %+v", st)
	}

	web := []string{"web.example.com"}
	api := []string{"api.example.com"}
	createCR(t, ns, "web-1", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: web[0], dns: web}), forCertificate("web"))
	createCR(t, ns, "api-1", ref, makeCSR(t, csrSpec{key: keys.p256, cn: api[0], dns: api}), forCertificate("api"))
	approve(t, keyOf(ns, "web-1"))
	approve(t, keyOf(ns, "api-1"))
	w1 := waitIssued(t, keyOf(ns, "web-1"))
	verifyIssued(t, sim, w1, keys.rsa2048, web)
	a1 := waitIssued(t, keyOf(ns, "api-1"))
	verifyIssued(t, sim, a1, keys.p256, api)
	wi, ai := w1.Annotations[v1alpha1.AnnotationInstanceID], a1.Annotations[v1alpha1.AnnotationInstanceID]
	if wi == "" || ai == "" || wi == ai {
		t.Fatalf("instances %q and %q", wi, ai)
	}

	// The renewal of web, with a new key, goes to web's instance.
	createCR(t, ns, "web-2", ref, makeCSR(t, csrSpec{key: keys.rsa2048Other, cn: web[0], dns: web}), forCertificate("web"))
	approve(t, keyOf(ns, "web-2"))
	w2 := waitIssued(t, keyOf(ns, "web-2"))
	verifyIssued(t, sim, w2, keys.rsa2048Other, web)
	if got := w2.Annotations[v1alpha1.AnnotationInstanceID]; got != wi {
		t.Fatalf("renewal on %s, first issuance on %s", got, wi)
	}
	per, total := simApplications(sim)
	if per[wi] != 2 || per[ai] != 1 || total != 3 {
		t.Fatalf("applications %v", per)
	}
	t.Logf("Alibaba calls for 3 certificates (health checks included): %v", sim.State().Calls)

	// A third Certificate finds no usable instance: it waits and says why.
	createCR(t, ns, "other-1", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "other.example.com"}), forCertificate("other"))
	approve(t, keyOf(ns, "other-1"))
	cr := waitCR(t, keyOf(ns, "other-1"), cmapi.CertificateRequestReasonPending, "no usable CAS subscription instance", 30*time.Second)
	if len(eventsFor(t, ns, "other-1", signer.ReasonNoUsableInstance)) == 0 {
		eventually(t, 10*time.Second, func() (bool, string) {
			return len(eventsFor(t, ns, "other-1", signer.ReasonNoUsableInstance)) > 0, "no NoUsableInstance event: " + describeCR(cr)
		})
	}
	consistently(t, time.Second, func() (bool, string) {
		_, total := simApplications(sim)
		return total == 3, fmt.Sprintf("%d applications", total)
	})
	assertNoLeaks(t, ns)
}

// crashAfterStep stands for a process that dies right after a remote call answered: nothing
// is saved after it, and the outcome of that Sign is lost.
type crashAfterStep struct {
	signer.Signer
	crashed *atomic.Bool
}

func (s *crashAfterStep) Sign(ctx context.Context, req signer.Request, store signer.StateStore) (signer.Outcome, error) {
	out, err := s.Signer.Sign(ctx, req, &refusingStore{StateStore: store, crashed: s.crashed})
	if s.crashed.Load() {
		return signer.Outcome{}, errors.New("process died")
	}
	return out, err
}

type refusingStore struct {
	signer.StateStore
	crashed *atomic.Bool
}

func (s *refusingStore) Save(ctx context.Context, st signer.OrderState) error {
	if s.crashed.Load() {
		return errors.New("process died")
	}
	return s.StateStore.Save(ctx, st)
}

// Learn: a dead process writes nothing more, not even with its next write.
func (s *refusingStore) Learn(st signer.OrderState) {
	if !s.crashed.Load() {
		s.StateStore.Learn(st)
	}
}

func TestInstanceCrashAfterEachStep(t *testing.T) {
	testKeys(t)
	for _, step := range []string{"UpdateInstance", "ApplyCertificate", "GetUserCertificateDetail"} {
		t.Run(step, func(t *testing.T) {
			sim, url := startSim(t, instanceSimConfig(1))
			ns := newNamespace(t)
			createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
			ref := createIssuer(t, ns, "v2", instanceIssuerSpec(url))

			var crashed atomic.Bool
			died := make(chan struct{})
			opts := testOptions()
			opts.NewSigner = func(cfg signer.Config) (signer.Signer, error) {
				cfg.OnCall = func(ci signer.CallInfo) {
					if ci.Action == step && ci.Outcome == "ok" && !crashed.Swap(true) {
						close(died)
					}
				}
				s, err := signer.New(cfg)
				return &crashAfterStep{Signer: s, crashed: &crashed}, err
			}
			m1 := startManager(t, opts)
			waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
			names := []string{"crash.example.com"}
			createCR(t, ns, "crash", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}), forCertificate("crash"))
			approve(t, keyOf(ns, "crash"))
			select {
			case <-died:
			case <-time.After(30 * time.Second):
				t.Fatalf("%s never happened", step)
			}
			m1.stop(t)
			if getCR(t, keyOf(ns, "crash")).Annotations[v1alpha1.AnnotationInstanceID] == "" {
				t.Fatal("the instance was not recorded before the crash")
			}

			startManager(t, testOptions())
			cr := waitIssued(t, keyOf(ns, "crash"))
			verifyIssued(t, sim, cr, keys.rsa2048, names)
			if _, total := simApplications(sim); total != 1 {
				t.Fatalf("%d applications, want 1", total)
			}
		})
	}
}

// Deleting a request mid-validation withdraws its application (retried while the instance
// refuses) and removes its Alidns record; the instance is usable again.
func TestInstanceDeleteMidValidation(t *testing.T) {
	testKeys(t)
	sim, _, ns, ref := startInstanceAlidnsIssuer(t, instanceAlidnsSimConfig())
	createCR(t, ns, "mid", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "www.example.com"}), forCertificate("mid"))
	approve(t, keyOf(ns, "mid"))
	cr := waitCR(t, keyOf(ns, "mid"), cmapi.CertificateRequestReasonPending, "created DNS TXT record _dnsauth.www.example.com", 30*time.Second)
	id := cr.Annotations[v1alpha1.AnnotationInstanceID]
	if len(sim.State().Records) != 1 {
		t.Fatalf("records %+v", sim.State().Records)
	}
	if err := env.Client.Delete(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), keyOf(ns, "mid"), &cmapi.CertificateRequest{})
		return apierrors.IsNotFound(err), fmt.Sprintf("request still there: %v", err)
	})
	st := sim.State()
	var status string
	for _, i := range st.Instances {
		if i.ID == id {
			status = i.Status
		}
	}
	if status != "inactive" || len(st.Records) != 0 || st.Calls["CancelPendingCertificate"] == 0 {
		t.Fatalf("after deletion: instance %s, records %+v, calls %v", status, st.Records, st.Calls)
	}
}

func TestInstanceFaults(t *testing.T) {
	testKeys(t)
	const n = 4
	cfg := instanceSimConfig(n)
	cfg.FaultHang = time.Second
	sim, url := startSim(t, cfg)
	opts := testOptions()
	opts.CallTimeout = 3 * time.Second
	startManager(t, opts)
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "v2-faults", instanceIssuerSpec(url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	sim.SetFaultRate(0.3)
	for i := range n {
		name := fmt.Sprintf("f%d", i)
		createCR(t, ns, name, ref, makeCSR(t, csrSpec{key: keys.p256, cn: name + ".example.com"}), forCertificate(name))
		approve(t, keyOf(ns, name))
	}
	for i := range n {
		waitCR(t, keyOf(ns, fmt.Sprintf("f%d", i)), cmapi.CertificateRequestReasonIssued, "", 3*time.Minute)
	}
	sim.SetFaultRate(0)
	per, total := simApplications(sim)
	for id, a := range per {
		if a != 1 {
			t.Errorf("instance %s: %d applications", id, a)
		}
	}
	if st := sim.State(); total != n || st.Faults == 0 {
		t.Fatalf("applications %d, faults %d", total, st.Faults)
	}
}

func TestInstanceBadInput(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, instanceSimConfig(1))
	closed := sim.AddInstance(aliyunsim.InstanceSpec{Status: "closed"})
	expired := sim.AddInstance(aliyunsim.InstanceSpec{Status: "expired"})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	good := createIssuer(t, ns, "v2", instanceIssuerSpec(url))
	withIDs := func(ids ...string) v1alpha1.IssuerSpec {
		s := instanceIssuerSpec(url)
		s.Instance = &v1alpha1.InstanceOrder{InstanceIDs: ids}
		return s
	}
	createIssuer(t, ns, "unknown-instance", withIDs("cas_dv-cn-nosuch"))
	createIssuer(t, ns, "closed-instance", withIDs(closed))
	createIssuer(t, ns, "expired-instance", withIDs(expired))
	badContact := instanceIssuerSpec(url)
	// A phone the order API takes but a contact's Mobile does not.
	badContact.Contact.Email, badContact.Contact.Phone = "nobody@example.com", "138 0000 0000"
	createIssuer(t, ns, "bad-contact", badContact)
	valid := makeCSR(t, csrSpec{key: keys.p256, cn: "ok.example.com"})
	cases := []struct {
		name, issuer string
		csr          []byte
		msg          string
	}{
		{"ip-san", "v2", makeCSR(t, csrSpec{key: keys.p256, cn: "a.example.com", ips: []net.IP{net.ParseIP("10.0.0.1")}}), "UnsupportedSAN"},
		{"wildcard", "v2", makeCSR(t, csrSpec{key: keys.p256, cn: "*.example.com"}), signer.ReasonInstanceCapacity},
		{"multi-name", "v2", makeCSR(t, csrSpec{key: keys.p256, cn: "a.example.com", dns: []string{"a.example.com", "b.example.com"}}), signer.ReasonInstanceCapacity},
		{"p384", "v2", makeCSR(t, csrSpec{key: keys.p384, cn: "a.example.com"}), signer.ReasonInstanceKeyUnsupported},
		{"unknown-instance", "unknown-instance", valid, signer.ReasonInstanceNotFound},
		{"closed-instance", "closed-instance", valid, signer.ReasonInstanceUnusable},
		{"expired-instance", "expired-instance", valid, signer.ReasonInstanceUnusable},
		{"bad-contact", "bad-contact", valid, signer.ReasonInvalidContact},
	}
	for _, tc := range cases {
		ref := good
		ref.Name = tc.issuer
		waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
		createCR(t, ns, tc.name, ref, tc.csr, forCertificate(tc.name))
		approve(t, keyOf(ns, tc.name))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := waitCR(t, keyOf(ns, tc.name), cmapi.CertificateRequestReasonFailed, tc.msg+": ", 30*time.Second)
			if len(cr.Finalizers) != 0 {
				t.Errorf("failed request keeps finalizers %v", cr.Finalizers)
			}
		})
	}
	st := sim.State()
	if _, total := simApplications(sim); total != 0 || st.Calls["UpdateInstance"] != 0 || st.Calls["ApplyCertificate"] != 0 {
		t.Fatalf("something was written onto an instance: %v", st.Calls)
	}
}
