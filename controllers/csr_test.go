package controllers_test

import (
	"net"
	"strings"
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// csrProduct covers several names per certificate.
const csrProduct = "globalsign-dv-w-advanced"

// csrIssuers starts the simulator and the controllers and makes a Ready
// AliyunCASClusterIssuer and AliyunCASIssuer (named "team" in ns).
func csrIssuers(t *testing.T, cfg aliyunsim.Config) (*aliyunsim.Simulator, string, string, string) {
	t.Helper()
	testKeys(t)
	if cfg.Packages == nil {
		cfg.Packages = map[string]aliyunsim.Package{csrProduct: {Quota: 10, MaxNames: 5}}
	}
	sim, url := startSim(t, cfg)
	startManager(t, testOptions())
	ns := newNamespace(t)
	ensureNamespace(t, clusterNS)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	createSecret(t, clusterNS, secretName, credentials(testKeyID, testKeySecret))
	cluster := createClusterIssuer(t, ns+"-cluster", issuerSpec(url, csrProduct))
	team := createIssuer(t, ns, "team", issuerSpec(url, csrProduct))
	waitIssuer(t, "", cluster, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	waitIssuer(t, ns, team, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	return sim, url, ns, cluster.Name
}

// TestCSRSigned: CSRs for a cluster issuer's and a namespaced issuer's
// signer names are signed once approved; the chain verifies against the
// simulator's root and the Issued Event reports the real NotAfter for the
// duration asked for (spec.expirationSeconds, the request-duration
// annotation).
func TestCSRSigned(t *testing.T) {
	sim, _, ns, cluster := csrIssuers(t, aliyunsim.Config{})
	issuedBefore := counterSum(t, "aliyun_cas_issuer_orders_issued_total")
	cases := []struct {
		name, signerName, cn string
		opt                  csrOption
	}{
		{"cluster", clusterSignerName(cluster), "csr-cluster.example.com", withExpirationSeconds(3600)},
		{"namespaced", issuerSignerName(ns, "team"), "csr-team.example.com", func(c *certificatesv1.CertificateSigningRequest) {
			c.Annotations = map[string]string{"experimental.cert-manager.io/request-duration": "2160h"}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			name := ns + "-" + tc.name
			names := []string{tc.cn, "alt-" + tc.cn}
			createCSR(t, nil, name, tc.signerName, makeCSR(t, csrSpec{key: keys.p256, cn: tc.cn, dns: names}), tc.opt)
			decideCSR(t, name, certificatesv1.CertificateApproved)
			leaf := verifyIssued(t, sim, waitCSRIssued(t, name), keys.p256, names)
			note := waitCSREvent(t, name, "Issued", leaf.NotAfter.UTC().Format(time.RFC3339))
			if !strings.Contains(note, "not honoured by CAS") {
				t.Errorf("the Issued Event does not say the requested duration differs: %q", note)
			}
			eventually(t, 10*time.Second, func() (bool, string) {
				csr := getCSR(t, name)
				return csr.Annotations[v1alpha1.AnnotationOrderID] != "" && !controllerutil.ContainsFinalizer(csr, v1alpha1.FinalizerCancelOrder),
					"issued CSR lacks its order id or keeps the finalizer: " + describeCSR(csr)
			})
		})
	}
	if st := sim.State(); st.Calls["CreateCertificateWithCsrRequest"] != len(cases) {
		t.Errorf("%d create calls for %d CSRs", st.Calls["CreateCertificateWithCsrRequest"], len(cases))
	}
	if got := counterSum(t, "aliyun_cas_issuer_orders_issued_total") - issuedBefore; got != float64(len(cases)) {
		t.Errorf("orders issued metric rose by %v for %d CSRs", got, len(cases))
	}
}

// counterSum is the sum of a counter's series in the controllers' metrics
// registry.
func counterSum(t *testing.T, name string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	sum := 0.0
	for _, f := range families {
		if f.GetName() == name {
			for _, m := range f.GetMetric() {
				sum += m.GetCounter().GetValue()
			}
		}
	}
	return sum
}

// TestCSRNotSigned: unapproved and denied CSRs are never ordered; a signer
// name of an issuer that does not exist waits, saying so, until the issuer
// appears; an IP SAN fails locally; deleting a CSR cancels its pending
// order.
func TestCSRNotSigned(t *testing.T) {
	sim, url, ns, cluster := csrIssuers(t, aliyunsim.Config{Validation: aliyunsim.ValidationDNS})
	creates := func() int { return sim.State().Calls["CreateCertificateWithCsrRequest"] }
	noOrders := func(t *testing.T, name string, before int) {
		t.Helper()
		consistently(t, 3*time.Second, func() (bool, string) {
			return creates() == before, name + " was ordered"
		})
		if csr := getCSR(t, name); len(csr.Annotations) != 0 || len(csr.Finalizers) != 0 {
			t.Errorf("%s got order state: %v %v", name, csr.Annotations, csr.Finalizers)
		}
	}

	t.Run("unapproved", func(t *testing.T) {
		name := ns + "-unapproved"
		before := creates()
		createCSR(t, nil, name, clusterSignerName(cluster), makeCSR(t, csrSpec{key: keys.p256, cn: "unapproved.example.com"}))
		noOrders(t, name, before)
	})
	t.Run("denied", func(t *testing.T) {
		name := ns + "-denied"
		before := creates()
		createCSR(t, nil, name, clusterSignerName(cluster), makeCSR(t, csrSpec{key: keys.p256, cn: "denied.example.com"}))
		decideCSR(t, name, certificatesv1.CertificateDenied)
		noOrders(t, name, before)
	})
	t.Run("IP SAN", func(t *testing.T) {
		name := ns + "-ip"
		before := creates()
		createCSR(t, nil, name, clusterSignerName(cluster), makeCSR(t, csrSpec{key: keys.p256, cn: "ip.example.com", ips: []net.IP{net.ParseIP("192.0.2.1")}}))
		decideCSR(t, name, certificatesv1.CertificateApproved)
		waitCSRFailed(t, name, signer.ReasonUnsupportedSAN, "192.0.2.1")
		noOrders(t, name, before)
	})
	t.Run("missing issuer", func(t *testing.T) {
		name := ns + "-missing"
		issuer := ns + "-later"
		before := creates()
		createCSR(t, nil, name, clusterSignerName(issuer), makeCSR(t, csrSpec{key: keys.p256, cn: "later.example.com"}))
		decideCSR(t, name, certificatesv1.CertificateApproved)
		waitCSREvent(t, name, "IssuerNotReady", "AliyunCASClusterIssuer "+issuer+" not found")
		noOrders(t, name, before)
		// The issuer appears: the CSR goes ahead.
		createClusterIssuer(t, issuer, issuerSpec(url, csrProduct))
		eventually(t, 30*time.Second, func() (bool, string) {
			csr := getCSR(t, name)
			return csr.Annotations[v1alpha1.AnnotationOrderID] != "", describeCSR(csr)
		})
	})
	t.Run("deleted before issuance", func(t *testing.T) {
		name := ns + "-deleted"
		createCSR(t, nil, name, clusterSignerName(cluster), makeCSR(t, csrSpec{key: keys.p256, cn: "deleted.example.com"}))
		decideCSR(t, name, certificatesv1.CertificateApproved)
		var orderID string
		eventually(t, 30*time.Second, func() (bool, string) {
			csr := getCSR(t, name)
			orderID = csr.Annotations[v1alpha1.AnnotationOrderID]
			return orderID != "" && controllerutil.ContainsFinalizer(csr, v1alpha1.FinalizerCancelOrder), describeCSR(csr)
		})
		waitCSREvent(t, name, signer.ReasonDomainVerify, "_dnsauth.deleted.example.com")

		// Another requester clones the pending CSR's state and finalizer
		// onto a CSR of its own, then deletes it: the order stays.
		clone := ns + "-clone"
		held := getCSR(t, name)
		createCSR(t, nil, clone, clusterSignerName(cluster), makeCSR(t, csrSpec{key: keys.p256, cn: "deleted.example.com"}),
			func(c *certificatesv1.CertificateSigningRequest) {
				c.Annotations, c.Finalizers = held.Annotations, held.Finalizers
			})
		waitCSREvent(t, clone, "UntrustedOrderState", "not written by the issuer")
		deleteCSR(t, clone)
		if !hasOrder(sim, orderID) {
			t.Fatalf("deleting a CSR with cloned state cancelled order %s", orderID)
		}

		deleteCSR(t, name)
		if hasOrder(sim, orderID) {
			t.Errorf("order %s of the deleted CSR was not cancelled", orderID)
		}
		waitCSREvent(t, name, "OrderCancelled", orderID)
	})
}

// TestCSRRestartMidFlight: the manager dies after the create call but
// before the order id is recorded on the CSR; the next manager finds the
// order instead of ordering again.
func TestCSRRestartMidFlight(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}}})
	ns := newNamespace(t)
	ensureNamespace(t, clusterNS)
	createSecret(t, clusterNS, secretName, credentials(testKeyID, testKeySecret))
	ref := createClusterIssuer(t, ns+"-cluster", issuerSpec(url, "digicert-free-1-free"))
	opts, crashed := crashOnce(func(s signer.Signer, crash func()) signer.Signer {
		return &crashingSigner{Signer: s, crash: crash}
	})
	m1 := startManager(t, opts)
	waitIssuer(t, "", ref, metav1.ConditionTrue, "")
	name := ns + "-restart"
	names := []string{"csr-restart.example.com"}
	createCSR(t, nil, name, clusterSignerName(ref.Name), makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}))
	decideCSR(t, name, certificatesv1.CertificateApproved)
	select {
	case <-crashed:
	case <-time.After(30 * time.Second):
		t.Fatal("the create call never happened")
	}
	m1.stop(t)
	csr := getCSR(t, name)
	if csr.Annotations[v1alpha1.AnnotationCreating] == "" || csr.Annotations[v1alpha1.AnnotationOrderID] != "" {
		t.Fatalf("after the crash the CSR should hold a creating mark and no order id: %v", csr.Annotations)
	}
	if !controllerutil.ContainsFinalizer(csr, v1alpha1.FinalizerCancelOrder) {
		t.Errorf("the finalizer was not added before the create call")
	}

	startManager(t, testOptions())
	verifyIssued(t, sim, waitCSRIssued(t, name), keys.rsa2048, names)
	st := sim.State()
	if len(st.Orders) != 1 || st.Calls["CreateCertificateWithCsrRequest"] != 1 {
		t.Errorf("orders = %d, create calls = %d; want exactly one of each", len(st.Orders), st.Calls["CreateCertificateWithCsrRequest"])
	}
}

// TestCSRReference: a CSR for a namespaced issuer is signed only when its
// requester may reference that issuer.
func TestCSRReference(t *testing.T) {
	sim, _, ns, _ := csrIssuers(t, aliyunsim.Config{})
	alice := userClient(t, ns+"-alice", "")
	name := ns + "-alice"
	createCSR(t, alice, name, issuerSignerName(ns, "team"), makeCSR(t, csrSpec{key: keys.p256, cn: "alice.example.com"}))
	decideCSR(t, name, certificatesv1.CertificateApproved)
	csr := waitCSRFailed(t, name, "DeniedReference", ns+"-alice")
	if csr.Spec.Username != ns+"-alice" {
		t.Fatalf("the API server recorded requester %q", csr.Spec.Username)
	}
	if n := sim.State().Calls["CreateCertificateWithCsrRequest"]; n != 0 {
		t.Errorf("%d orders for a requester without the reference permission", n)
	}

	bob := userClient(t, ns+"-bob", ns)
	name = ns + "-bob"
	createCSR(t, bob, name, issuerSignerName(ns, "team"), makeCSR(t, csrSpec{key: keys.p256, cn: "bob.example.com"}))
	decideCSR(t, name, certificatesv1.CertificateApproved)
	verifyIssued(t, sim, waitCSRIssued(t, name), keys.p256, []string{"bob.example.com"})
}

func hasOrder(sim *aliyunsim.Simulator, id string) bool {
	for _, o := range sim.State().Orders {
		if o.ID == id {
			return true
		}
	}
	return false
}

// TestCSRDVOrderRefused: a DVOrder issuer cannot serve a CSR (Alibaba
// Cloud generates the key, and a CSR has no Secret to adopt it into): the
// CSR fails with a clear reason before anything is ordered.
func TestCSRDVOrderRefused(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{DVInstances: 2})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "dv", dvIssuerSpec(url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	name := ns + "-dv"
	createCSR(t, nil, name, issuerSignerName(ns, ref.Name), makeCSR(t, csrSpec{key: keys.rsa2048, cn: "dv.example.com"}))
	decideCSR(t, name, certificatesv1.CertificateApproved)
	waitCSRFailed(t, name, signer.ReasonNoNextKeySecret, "cannot be served")
	consistently(t, 2*time.Second, func() (bool, string) {
		st := sim.State()
		return st.Calls["CreateDVOrderAudit"] == 0 && len(st.Orders) == 0, "a DV order was placed for a CSR"
	})
}
