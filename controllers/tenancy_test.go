package controllers_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Tenancy: nothing a requester writes on its own CertificateRequests (or
// Secrets) moves another tenant's order, key, DNS record or quota, and a
// requester cannot make the issuer order twice for one request by editing
// the order state.

// reasonUntrusted is the Warning Event of ignored order state.
const reasonUntrusted = "UntrustedOrderState"

// cloneStateOf copies every aliyun-cas-issuer.io/* annotation and every
// finalizer of from onto a new request, as tenant B would.
func cloneStateOf(from *cmapi.CertificateRequest) crOption {
	return func(cr *cmapi.CertificateRequest) {
		if cr.Annotations == nil {
			cr.Annotations = map[string]string{}
		}
		for k, v := range from.Annotations {
			if strings.HasPrefix(k, v1alpha1.AnnotationPrefix) {
				cr.Annotations[k] = v
			}
		}
		cr.Finalizers = append(cr.Finalizers, from.Finalizers...)
	}
}

// stateAnnotations are a request's aliyun-cas-issuer.io/* annotations.
func stateAnnotations(cr *cmapi.CertificateRequest) map[string]string {
	out := map[string]string{}
	for k, v := range cr.Annotations {
		if strings.HasPrefix(k, v1alpha1.AnnotationPrefix) {
			out[k] = v
		}
	}
	return out
}

// deleteAndWaitGone deletes a request and waits until its finalizers let
// it go.
func deleteAndWaitGone(t *testing.T, key client.ObjectKey) {
	t.Helper()
	if err := env.Client.Delete(context.Background(), getCR(t, key)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), key, &cmapi.CertificateRequest{})
		return apierrors.IsNotFound(err), fmt.Sprintf("%s still there: %v", key, err)
	})
}

func simOrder(sim *aliyunsim.Simulator, id string) (aliyunsim.OrderState, bool) {
	for _, o := range sim.State().Orders {
		if o.ID == id {
			return o, true
		}
	}
	return aliyunsim.OrderState{}, false
}

// tenants makes two tenant namespaces and a shared cluster issuer.
func tenants(t *testing.T, spec v1alpha1.IssuerSpec) (a, b string, ref cmmeta.IssuerReference) {
	t.Helper()
	a, b = newNamespace(t), newNamespace(t)
	ensureNamespace(t, clusterNS)
	name := a + "-shared"
	createSecret(t, clusterNS, secretName+"-"+name, credentials(testKeyID, testKeySecret))
	spec.Auth.AccessKeySecretRef = &v1alpha1.AccessKeySecretRef{Name: secretName + "-" + name}
	ref = createClusterIssuer(t, name, spec)
	waitIssuer(t, "", ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	return a, b, ref
}

// TestTenantClonesPendingOrder: tenant B copies the order state and
// finalizer of tenant A's pending CSR order onto requests of its own, one
// left unapproved and one approved, then deletes them. A's order is not
// cancelled, B's approved request orders for itself, and A's request still
// issues.
func TestTenantClonesPendingOrder(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Validation: aliyunsim.ValidationDNS, // orders wait
		Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 10}}})
	startManager(t, testOptions())
	nsA, nsB, ref := tenants(t, issuerSpec(url, "digicert-free-1-free"))

	a := createCR(t, nsA, "a", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "a.example.com"}))
	approve(t, a)
	crA := waitCR(t, a, cmapi.CertificateRequestReasonPending, "_dnsauth.a.example.com", 30*time.Second)
	orderA := orderIDOf(crA)
	before, ok := simOrder(sim, orderA)
	if orderA == "" || !ok || !slices.Contains(crA.Finalizers, v1alpha1.FinalizerCancelOrder) {
		t.Fatalf("A's request holds no order: %v %v", crA.Annotations, crA.Finalizers)
	}

	b1 := createCR(t, nsB, "b1", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "b.example.com"}), cloneStateOf(crA))
	b2 := createCR(t, nsB, "b2", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "b.example.com"}), cloneStateOf(crA))
	approve(t, b2)
	for _, k := range []client.ObjectKey{b1, b2} {
		eventually(t, 30*time.Second, func() (bool, string) {
			return len(eventsFor(t, nsB, k.Name, reasonUntrusted)) > 0, "no " + reasonUntrusted + " Event on " + k.Name
		})
	}
	crB2 := waitCR(t, b2, cmapi.CertificateRequestReasonPending, "_dnsauth.b.example.com", 30*time.Second)
	if got := orderIDOf(crB2); got == "" || got == orderA {
		t.Fatalf("B's approved request holds order %q (A's is %s)", got, orderA)
	}
	if got := orderIDOf(getCR(t, b1)); got != "" {
		t.Fatalf("B's unapproved request still names order %q", got)
	}
	if n := len(eventsFor(t, nsB, "b1", reasonUntrusted)); n != 1 {
		t.Errorf("%d %s Events on b1, want 1", n, reasonUntrusted)
	}

	deleteAndWaitGone(t, b1)
	deleteAndWaitGone(t, b2)
	after, ok := simOrder(sim, orderA)
	if !ok || after.Status != before.Status {
		t.Fatalf("A's order %s changed: %+v -> %+v (present %v)", orderA, before, after, ok)
	}
	if st := sim.State(); st.Calls["CancelOrderRequest"] != 1 {
		t.Errorf("%d CancelOrderRequest calls, want 1 (B's own order only)", st.Calls["CancelOrderRequest"])
	}
	sim.SetValidation(aliyunsim.ValidationAuto)
	cr := waitIssued(t, a)
	verifyIssued(t, sim, cr, keys.p256, []string{"a.example.com"})
	if got := orderIDOf(cr); got != orderA {
		t.Errorf("A issued from order %q, want %s", got, orderA)
	}
}

// TestTenantClonesValidationRecords: tenant B copies the state of A's
// pending order, which holds an Alidns validation record, and deletes its
// request: A's record stays, A's order is not cancelled, and A issues.
func TestTenantClonesValidationRecords(t *testing.T) {
	testKeys(t)
	sim, url := alidnsSimulator(t, aliyunsim.Config{ValidationDelay: time.Hour})
	startManager(t, testOptions())
	nsA, nsB, ref := tenants(t, alidnsIssuerSpec(sim, url))

	a := createCR(t, nsA, "a", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "www.example.com"}))
	approve(t, a)
	crA := waitCR(t, a, cmapi.CertificateRequestReasonPending, "created DNS TXT record _dnsauth.www.example.com", 30*time.Second)
	eventually(t, 30*time.Second, func() (bool, string) {
		crA = getCR(t, a)
		return strings.Contains(crA.Annotations[v1alpha1.AnnotationOrderState], "id="), "no record id recorded yet"
	})
	records := sim.State().Records
	if len(records) != 1 {
		t.Fatalf("records %+v", records)
	}

	b := createCR(t, nsB, "b", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "b.example.com"}), cloneStateOf(crA))
	eventually(t, 30*time.Second, func() (bool, string) {
		return len(eventsFor(t, nsB, "b", reasonUntrusted)) > 0, "no " + reasonUntrusted + " Event"
	})
	deleteAndWaitGone(t, b)
	st := sim.State()
	if len(st.Records) != 1 || st.Records[0].ID != records[0].ID || st.Calls["DeleteDomainRecord"] != 0 {
		t.Fatalf("A's record was touched: %+v, %d deletions", st.Records, st.Calls["DeleteDomainRecord"])
	}
	if st.Calls["CancelOrderRequest"] != 0 || st.Calls["DeleteCertificateRequest"] != 0 {
		t.Fatalf("an order was cancelled: %v", st.Calls)
	}
	sim.SetDelays(0, 0)
	verifyIssued(t, sim, waitIssued(t, a), keys.p256, []string{"www.example.com"})
}

// TestTenantClonesIssuedDVInstance: tenant B copies the state of A's
// request issued from a DV instance (and the instance record of A's key
// Secret onto its own Secret) onto a request of its own with its own CSR
// and Secret. B is not answered from A's instance, A's key never reaches
// B's Secret, and deleting B's request leaves A's certificate alone.
func TestTenantClonesIssuedDVInstance(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{DVInstances: 1})
	startManager(t, testOptions())
	nsA, nsB, ref := tenants(t, dvIssuerSpec(url))

	names := []string{"www.example.com"}
	createNextKeySecret(t, nsA, "web-next", keys.rsa2048)
	a1 := createCR(t, nsA, "a1", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}), withNextKey("web-next"))
	approve(t, a1)
	waitCR(t, a1, "KeyAdopted", "cert-manager will re-issue", 60*time.Second)
	secA := readSecret(t, nsA, "web-next")
	keyA := secretKey(t, secA)
	a2 := createCR(t, nsA, "a2", ref, makeCSR(t, csrSpec{key: keyA, cn: names[0], dns: names}), withNextKey("web-next"))
	approve(t, a2)
	crA := waitIssued(t, a2)
	inst := crA.Annotations[v1alpha1.AnnotationInstanceID]

	keyB, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	createNextKeySecret(t, nsB, "web-next", keyB)
	// B's Secret claims A's instance, as A's Secret records it.
	secB := readSecret(t, nsB, "web-next")
	for _, k := range []string{v1alpha1.AnnotationInstanceID, v1alpha1.AnnotationAdoptedKeyMAC} {
		if secB.Annotations == nil {
			secB.Annotations = map[string]string{}
		}
		secB.Annotations[k] = secA.Annotations[k]
	}
	if err := env.Client.Update(context.Background(), secB); err != nil {
		t.Fatal(err)
	}
	keyBPEM := readSecret(t, nsB, "web-next").Data[corev1.TLSPrivateKeyKey]
	b := createCR(t, nsB, "b", ref, makeCSR(t, csrSpec{key: keyB, cn: names[0], dns: names}), cloneStateOf(crA), withNextKey("web-next"))
	approve(t, b)
	// The only instance is A's: B waits for one of its own.
	crB := waitCR(t, b, cmapi.CertificateRequestReasonPending, "no usable DV instance", 30*time.Second)
	if got := crB.Annotations[v1alpha1.AnnotationInstanceID]; got == inst {
		t.Fatalf("B's request holds A's instance %s", inst)
	}
	if len(crB.Status.Certificate) > 0 {
		t.Fatal("B's request was answered")
	}
	if len(eventsFor(t, nsB, "b", reasonUntrusted)) == 0 {
		t.Errorf("no %s Event on B's request", reasonUntrusted)
	}
	if got := readSecret(t, nsB, "web-next").Data[corev1.TLSPrivateKeyKey]; !bytes.Equal(got, keyBPEM) {
		t.Fatal("B's next private key Secret was written")
	}
	deleteAndWaitGone(t, b)
	if got := readSecret(t, nsB, "web-next").Data[corev1.TLSPrivateKeyKey]; !bytes.Equal(got, keyBPEM) {
		t.Fatal("B's next private key Secret was written")
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 1 {
		t.Errorf("%d CreateDVOrderAudit calls, want 1", n)
	}
	if cr := getCR(t, a2); !bytes.Equal(cr.Status.Certificate, crA.Status.Certificate) || readyCond(cr).Reason != cmapi.CertificateRequestReasonIssued {
		t.Errorf("A's request changed: %s", describeCR(cr))
	}
}

// TestEditedStateIsNotTrusted: the order state of a pending request edited
// after the controller wrote it (another order id) is not acted on, and
// erased state is recovered from the status: no second order, and the
// request issues from its own order.
func TestEditedStateIsNotTrusted(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Validation: aliyunsim.ValidationDNS,
		Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 10}}})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "edit", issuerSpec(url, "digicert-free-1-free"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	// Another order of the account, which the edit will point at.
	other := createCR(t, ns, "other", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "other.example.com"}))
	approve(t, other)
	otherOrder := orderIDOf(waitCR(t, other, cmapi.CertificateRequestReasonPending, "_dnsauth.other", 30*time.Second))

	key := createCR(t, ns, "mine", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "mine.example.com"}))
	approve(t, key)
	cr := waitCR(t, key, cmapi.CertificateRequestReasonPending, "_dnsauth.mine", 30*time.Second)
	mine := orderIDOf(cr)
	if mine == "" || mine == otherOrder {
		t.Fatalf("order ids %q, %q", mine, otherOrder)
	}

	edit := func(change func(a map[string]string)) {
		t.Helper()
		eventually(t, 10*time.Second, func() (bool, string) {
			cr := getCR(t, key)
			change(cr.Annotations)
			if err := env.Client.Update(context.Background(), cr); err != nil {
				return false, err.Error()
			}
			return true, ""
		})
	}
	restored := func(what string) {
		t.Helper()
		eventually(t, 30*time.Second, func() (bool, string) {
			a := getCR(t, key).Annotations
			return a[v1alpha1.AnnotationOrderID] == mine && a[v1alpha1.AnnotationStateMAC] != "", fmt.Sprintf("%s: annotations %v", what, stateAnnotations(getCR(t, key)))
		})
	}

	// Edited to point at the other order: ignored, restored from the status.
	edit(func(a map[string]string) { a[v1alpha1.AnnotationOrderID] = otherOrder })
	restored("after the edit")
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(eventsFor(t, ns, "mine", reasonUntrusted)) > 0, "no " + reasonUntrusted + " Event"
	})

	// Erased: recovered, not ordered again.
	edit(func(a map[string]string) {
		for k := range a {
			if strings.HasPrefix(k, v1alpha1.AnnotationPrefix) {
				delete(a, k)
			}
		}
	})
	restored("after erasing")
	consistently(t, 3*time.Second, func() (bool, string) {
		n := sim.State().Calls["CreateCertificateWithCsrRequest"]
		return n == 2, fmt.Sprintf("%d create calls, want 2 (mine and other)", n)
	})
	sim.SetValidation(aliyunsim.ValidationAuto)
	issued := waitIssued(t, key)
	verifyIssued(t, sim, issued, keys.p256, []string{"mine.example.com"})
	if got := orderIDOf(issued); got != mine {
		t.Errorf("issued from order %q, want %s", got, mine)
	}
	if n := sim.State().Calls["CreateCertificateWithCsrRequest"]; n != 2 {
		t.Errorf("%d create calls, want 2", n)
	}
	o, _ := simOrder(sim, otherOrder)
	if c := sim.State().Calls["CancelOrderRequest"]; c != 0 || o.ID == "" {
		t.Errorf("the other order was touched: %d cancels, %+v", c, o)
	}
}

// TestKeyAdoptionOnlyIntoTheCertificatesSecret: a DV request whose next
// private key Secret is not cert-manager's next-private-key Secret of the
// Certificate owning the request is failed before anything is ordered, and
// the Secret is left alone.
func TestKeyAdoptionOnlyIntoTheCertificatesSecret(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{DVInstances: 3})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "dv", dvIssuerSpec(url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	ctx := context.Background()

	// A plain Secret of the namespace (say, another application's).
	createSecret(t, ns, "victim", map[string]string{corev1.TLSPrivateKeyKey: "someone else's"})
	// A Certificate whose next-private-key Secret is another one.
	createNextKeySecret(t, ns, "real-next", keys.rsa2048)
	// Certificates naming Secrets that are not theirs.
	createSecret(t, ns, "unlabelled", map[string]string{corev1.TLSPrivateKeyKey: "x"})
	notOwned := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "not-owned",
		Labels: map[string]string{cmapi.IsNextPrivateKeySecretLabelKey: "true"}}, StringData: map[string]string{corev1.TLSPrivateKeyKey: "y"}}
	if err := env.Client.Create(ctx, notOwned); err != nil {
		t.Fatal(err)
	}
	certNaming := func(name, secret string) *cmapi.Certificate {
		c := &cmapi.Certificate{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
			Spec: cmapi.CertificateSpec{SecretName: name + "-tls", DNSNames: []string{"www.example.com"},
				IssuerRef: cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.IssuerKind, Name: "dv"}}}
		if err := env.Client.Create(ctx, c); err != nil {
			t.Fatal(err)
		}
		c.Status.NextPrivateKeySecretName = &secret
		if err := env.Client.Status().Update(ctx, c); err != nil {
			t.Fatal(err)
		}
		return c
	}
	ownedBy := func(c *cmapi.Certificate) crOption {
		return func(cr *cmapi.CertificateRequest) {
			cr.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(c, cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateKind))}
		}
	}
	realCert := &cmapi.Certificate{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: certFor("real-next")}, realCert); err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.com"}
	for _, tc := range []struct {
		name, secret string
		opts         []crOption
		want         string
	}{
		{"no-certificate", "victim", nil, "the request is not owned by a Certificate"},
		{"other-secret", "victim", []crOption{ownedBy(realCert)}, "it is not the next private key Secret of Certificate " + realCert.Name},
		{"unlabelled", "unlabelled", []crOption{ownedBy(certNaming("names-unlabelled", "unlabelled"))}, "it is not labelled cert-manager.io/next-private-key"},
		{"not-owned", "not-owned", []crOption{ownedBy(certNaming("names-not-owned", "not-owned"))}, "it is not owned by Certificate names-not-owned"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			opts := append([]crOption{func(cr *cmapi.CertificateRequest) {
				cr.Annotations = map[string]string{cmapi.CertificateRequestPrivateKeyAnnotationKey: tc.secret}
			}}, tc.opts...)
			key := createCR(t, ns, tc.name, ref, makeCSR(t, csrSpec{key: k, cn: names[0], dns: names}), opts...)
			approve(t, key)
			cr := waitCR(t, key, cmapi.CertificateRequestReasonFailed, "NextPrivateKeySecretRefused", 30*time.Second)
			if msg := readyCond(cr).Message; !strings.Contains(msg, tc.want) || !strings.Contains(msg, "nothing is ordered") {
				t.Errorf("message %q does not say %q", msg, tc.want)
			}
			if len(cr.Annotations[v1alpha1.AnnotationInstanceID]) > 0 {
				t.Errorf("an instance was reserved: %v", cr.Annotations)
			}
		})
	}
	st := sim.State()
	if st.Calls["CreateDVOrderAudit"] != 0 || st.Calls["DescribeDVOrderResult"] != 0 {
		t.Fatalf("something was ordered or looked for: %v", st.Calls)
	}
	if got := readSecret(t, ns, "victim"); string(got.Data[corev1.TLSPrivateKeyKey]) != "someone else's" || len(got.Annotations) != 0 {
		t.Fatalf("the victim Secret was written: %v", got.Annotations)
	}
}

// erasingSigner erases the order state annotations of a request right
// after the Sign that placed its order, before the controller writes the
// request's status: the requester racing the controller.
type erasingSigner struct {
	signer.Signer
	erase func(name string)
}

func (s *erasingSigner) Sign(ctx context.Context, req signer.Request, store signer.StateStore) (signer.Outcome, error) {
	out, err := s.Signer.Sign(ctx, req, store)
	if err == nil && out.Kind == signer.OutcomePending && req.State.OrderID == "" && req.State.Creating == nil {
		s.erase(req.Name)
	}
	return out, err
}

// TestStateErasedWhileOrdering: the requester erases the order state in
// the moment between the order being placed and the status being written
// (which then meets a conflict): the state still reaches the status, and
// the next look resumes the order instead of placing a second one.
func TestStateErasedWhileOrdering(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Validation: aliyunsim.ValidationDNS,
		Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 10}}})
	var once sync.Once
	erased := make(chan struct{})
	erase := func(name string) {
		once.Do(func() {
			defer close(erased)
			ns, n, _ := strings.Cut(name, "/")
			eventually(t, 10*time.Second, func() (bool, string) {
				cr := getCR(t, client.ObjectKey{Namespace: ns, Name: n})
				for k := range cr.Annotations {
					if strings.HasPrefix(k, v1alpha1.AnnotationPrefix) {
						delete(cr.Annotations, k)
					}
				}
				if err := env.Client.Update(context.Background(), cr); err != nil {
					return false, err.Error()
				}
				return true, ""
			})
		})
	}
	opts := testOptions()
	opts.NewSigner = func(cfg signer.Config) (signer.Signer, error) {
		sg, err := signer.New(cfg)
		if err != nil {
			return nil, err
		}
		return &erasingSigner{Signer: sg, erase: erase}, nil
	}
	startManager(t, opts)
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "race", issuerSpec(url, "digicert-free-1-free"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	key := createCR(t, ns, "raced", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "raced.example.com"}))
	approve(t, key)
	select {
	case <-erased:
	case <-time.After(30 * time.Second):
		t.Fatal("the order was never placed")
	}
	var order string
	eventually(t, 30*time.Second, func() (bool, string) {
		cr := getCR(t, key)
		order = cr.Annotations[v1alpha1.AnnotationOrderID]
		return order != "", fmt.Sprintf("state not restored: %v; %s", stateAnnotations(cr), describeCR(cr))
	})
	consistently(t, 3*time.Second, func() (bool, string) {
		n := sim.State().Calls["CreateCertificateWithCsrRequest"]
		return n == 1, fmt.Sprintf("%d create calls, want 1", n)
	})
	if o := sim.State().Orders; len(o) != 1 || o[0].ID != order {
		t.Fatalf("orders %+v, state names %s", o, order)
	}
	sim.SetValidation(aliyunsim.ValidationAuto)
	verifyIssued(t, sim, waitIssued(t, key), keys.p256, []string{"raced.example.com"})
}
