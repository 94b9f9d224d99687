package controllers_test

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Automatic DNS validation (provider alidns) against the simulator in
// "dns" validation mode: an order is validated only once its TXT record
// exists in one of the account's zones.

func alidnsSimulator(t *testing.T, cfg aliyunsim.Config) (*aliyunsim.Simulator, string) {
	t.Helper()
	cfg.Validation = aliyunsim.ValidationDNS
	cfg.Zones = []string{"example.com"}
	cfg.ForeignZones = []string{"foreign.org"}
	cfg.DNSListen = "127.0.0.1:0"
	if cfg.Packages == nil {
		cfg.Packages = map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 20}}
	}
	return startSim(t, cfg)
}

func alidnsIssuerSpec(sim *aliyunsim.Simulator, url string) v1alpha1.IssuerSpec {
	spec := issuerSpec(url, "digicert-free-1-free")
	spec.Validation = v1alpha1.Validation{Method: v1alpha1.ValidationMethodDNS, DNS: &v1alpha1.DNSValidation{
		Provider: v1alpha1.DNSProviderAlidns,
		Alidns:   &v1alpha1.AlidnsDNS{Endpoint: url, Nameservers: []string{sim.DNSAddr()}},
	}}
	return spec
}

func TestAlidnsValidation(t *testing.T) {
	testKeys(t)
	sim, url := alidnsSimulator(t, aliyunsim.Config{})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "alidns", alidnsIssuerSpec(sim, url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")

	// Several names of one zone at once, one of them twice.
	reqs := map[string]string{"a": "a.example.com", "b": "b.example.com", "c": "c.example.com", "a2": "a.example.com"}
	for name, dns := range reqs {
		createCR(t, ns, name, ref, makeCSR(t, csrSpec{key: keys.p256, cn: dns, dns: []string{dns}}))
		approve(t, keyOf(ns, name))
	}
	for name, dns := range reqs {
		cr := waitIssued(t, keyOf(ns, name))
		verifyIssued(t, sim, cr, keys.p256, []string{dns})
		// The finalizer goes in the write after the certificate's.
		eventually(t, 5*time.Second, func() (bool, string) {
			return !controllerutil.ContainsFinalizer(getCR(t, keyOf(ns, name)), v1alpha1.FinalizerCancelOrder), name + ": finalizer left after issuance"
		})
		if st := cr.Annotations[v1alpha1.AnnotationOrderState]; strings.Contains(st, "validationRecords") {
			t.Errorf("%s: validation records still recorded: %s", name, st)
		}
		// The record was created before the CA validated, and said so.
		want := "created DNS TXT record _dnsauth." + dns + " in Alidns zone example.com; waiting for CAS to validate (visible at " + sim.DNSAddr() + ")"
		found := false
		for _, ev := range eventsFor(t, ns, name, signer.ReasonDomainVerify) {
			found = found || strings.Contains(ev.Note, want)
		}
		if !found {
			t.Errorf("%s: no DomainVerify event %q", name, want)
		}
	}
	st := sim.State()
	if len(st.Records) != 0 {
		t.Errorf("records left: %+v", st.Records)
	}
	if st.Calls["AddDomainRecord"] != len(reqs) || st.Calls["DeleteDomainRecord"] != len(reqs) {
		t.Errorf("calls %v: want %d record creations and deletions", st.Calls, len(reqs))
	}
}

func TestAlidnsNoZone(t *testing.T) {
	testKeys(t)
	sim, url := alidnsSimulator(t, aliyunsim.Config{})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "alidns", alidnsIssuerSpec(sim, url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	for _, dns := range []string{"www.other.net", "www.foreign.org"} {
		name := strings.Split(dns, ".")[1]
		createCR(t, ns, name, ref, makeCSR(t, csrSpec{key: keys.p256, cn: dns, dns: []string{dns}}))
		approve(t, keyOf(ns, name))
		waitCR(t, keyOf(ns, name), cmapi.CertificateRequestReasonFailed,
			signer.ReasonDNSZoneNotFound+": no Alidns zone of this account covers "+dns+"; nothing was ordered", 30*time.Second)
	}
	st := sim.State()
	if len(st.Orders) != 0 || len(st.Records) != 0 || st.Calls["CreateCertificateWithCsrRequest"] != 0 {
		t.Errorf("orders %d, records %d, create calls %d: want none", len(st.Orders), len(st.Records), st.Calls["CreateCertificateWithCsrRequest"])
	}
}

// TestAlidnsCrashAfterRecordCreation: the manager dies right after
// AddDomainRecord, before the record id is saved; the next manager finds
// the record by name and value, and still removes it.
func TestAlidnsCrashAfterRecordCreation(t *testing.T) {
	testKeys(t)
	sim, url := alidnsSimulator(t, aliyunsim.Config{})
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "alidns", alidnsIssuerSpec(sim, url))

	opts, crashed := crashOnce(func(s signer.Signer, crash func()) signer.Signer {
		return &recordCrashSigner{Signer: s, crash: crash}
	})
	m1 := startManager(t, opts)
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	createCR(t, ns, "crash", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "crash.example.com", dns: []string{"crash.example.com"}}))
	approve(t, keyOf(ns, "crash"))
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("the record was never created")
	}
	m1.stop(t)
	cr := getCR(t, keyOf(ns, "crash"))
	if st := cr.Annotations[v1alpha1.AnnotationOrderState]; !strings.Contains(st, "validationRecords") || strings.Contains(st, "id=") {
		t.Fatalf("after the crash the request should hold the intent without an id: %s", st)
	}
	if n := len(sim.State().Records); n != 1 {
		t.Fatalf("%d records after the crash, want 1", n)
	}

	startManager(t, testOptions())
	waitIssued(t, keyOf(ns, "crash"))
	st := sim.State()
	if len(st.Records) != 0 || st.Calls["AddDomainRecord"] != 1 {
		t.Errorf("records %+v, AddDomainRecord calls %d: want none left and one creation", st.Records, st.Calls["AddDomainRecord"])
	}
}

// hasRecordID matches a validation record entry that holds a record id.
var hasRecordID = regexp.MustCompile(`[:&]id=`)

// recordCrashSigner stands for a process that dies right after
// AddDomainRecord answered: the save of the record id never happens.
type recordCrashSigner struct {
	signer.Signer
	crash func()
}

func (s *recordCrashSigner) Sign(ctx context.Context, req signer.Request, store signer.StateStore) (signer.Outcome, error) {
	return s.Signer.Sign(ctx, req, &recordCrashStore{StateStore: store, crash: s.crash})
}

type recordCrashStore struct {
	signer.StateStore
	crash   func()
	crashed atomic.Bool
}

func (s *recordCrashStore) Save(ctx context.Context, st signer.OrderState) error {
	for _, r := range st.ValidationRecords {
		if hasRecordID.MatchString(r) || s.crashed.Load() {
			s.crashed.Store(true)
			s.crash()
			return errors.New("process died")
		}
	}
	return s.StateStore.Save(ctx, st)
}

// Learn: a dead process writes nothing more.
func (s *recordCrashStore) Learn(st signer.OrderState) {
	if !s.crashed.Load() {
		s.StateStore.Learn(st)
	}
}

// TestAlidnsDeletePending: deleting a request whose order waits removes
// its record and cancels the order.
func TestAlidnsDeletePending(t *testing.T) {
	testKeys(t)
	// The CA takes an hour after the proof: the order keeps waiting.
	sim, url := alidnsSimulator(t, aliyunsim.Config{ValidationDelay: time.Hour})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "alidns", alidnsIssuerSpec(sim, url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	createCR(t, ns, "del", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "del.example.com", dns: []string{"del.example.com"}}))
	approve(t, keyOf(ns, "del"))
	eventually(t, 30*time.Second, func() (bool, string) {
		return len(sim.State().Records) == 1, "no record yet"
	})
	cr := getCR(t, keyOf(ns, "del"))
	if err := env.Client.Delete(context.Background(), cr); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		st := sim.State()
		return len(st.Records) == 0 && len(st.Orders) == 0, fmt.Sprintf("records %d orders %d", len(st.Records), len(st.Orders))
	})
}

// TestIssuerFollowsAlidnsSecret: the Secret of the Alidns credentials is
// watched like spec.auth's: deleting it makes the issuer not Ready at once
// (the periodic check is 10 minutes away), and creating it again makes it
// Ready.
func TestIssuerFollowsAlidnsSecret(t *testing.T) {
	testKeys(t)
	sim, url := alidnsSimulator(t, aliyunsim.Config{})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	dnsSecret := createSecret(t, ns, "alidns-credentials", credentials(testKeyID, testKeySecret))
	spec := alidnsIssuerSpec(sim, url)
	spec.Validation.DNS.Alidns.Auth = &v1alpha1.Auth{AccessKeySecretRef: &v1alpha1.AccessKeySecretRef{Name: dnsSecret.Name}}
	ref := createIssuer(t, ns, "dns-secret", spec)
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	if err := env.Client.Delete(context.Background(), dnsSecret); err != nil {
		t.Fatal(err)
	}
	iss := waitIssuer(t, ns, ref, metav1.ConditionFalse, v1alpha1.ReasonSecretNotFound)
	if msg := v1alpha1.ReadyCondition(iss).Message; !strings.Contains(msg, ns+"/alidns-credentials") {
		t.Fatalf("Ready message %q does not name the missing Secret", msg)
	}
	createSecret(t, ns, "alidns-credentials", credentials(testKeyID, testKeySecret))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
}
