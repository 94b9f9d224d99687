package controllers_test

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"
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

// orderAPI DVOrder with key adoption, as cert-manager drives it: a request
// built from the Certificate's next private key Secret, the server key
// adopted into that Secret, and the replacement request issued from the
// recorded instance without a second order.

func dvIssuerSpec(url string) v1alpha1.IssuerSpec {
	spec := issuerSpec(url, "")
	spec.OrderAPI = v1alpha1.OrderAPIDVOrder
	spec.DVOrder = &v1alpha1.DVOrder{AdoptServerKey: true}
	spec.Contact.Province, spec.Contact.City = "Zhejiang", "Hangzhou"
	return spec
}

// createNextKeySecret creates a next-private-key Secret as cert-manager's
// key manager does: for a Certificate (named certFor(name)) whose status
// names it, labelled, and owned by that Certificate.
func createNextKeySecret(t *testing.T, ns, name string, key *rsa.PrivateKey) {
	t.Helper()
	ctx := context.Background()
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: certFor(name)},
		Spec: cmapi.CertificateSpec{SecretName: name + "-tls", DNSNames: []string{"www.example.com"},
			IssuerRef: cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.IssuerKind, Name: "dv"}},
	}
	if err := env.Client.Create(ctx, cert); err != nil {
		t.Fatalf("creating Certificate %s: %v", cert.Name, err)
	}
	cert.Status.NextPrivateKeySecretName = &name
	if err := env.Client.Status().Update(ctx, cert); err != nil {
		t.Fatalf("setting the next private key Secret of Certificate %s: %v", cert.Name, err)
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: map[string]string{"cert-manager.io/next-private-key": "true"},
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cert, cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateKind))}},
		Data: map[string][]byte{corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})},
	}
	if err := env.Client.Create(ctx, sec); err != nil {
		t.Fatalf("creating Secret %s: %v", name, err)
	}
}

// certFor names the Certificate of a next-private-key Secret.
func certFor(secret string) string { return "cert-" + secret }

// withNextKey names the request's next-private-key Secret and, as
// cert-manager does, makes the request owned by the Certificate of that
// Secret (when it exists).
func withNextKey(secret string) crOption {
	return func(cr *cmapi.CertificateRequest) {
		if cr.Annotations == nil {
			cr.Annotations = map[string]string{}
		}
		cr.Annotations[cmapi.CertificateRequestPrivateKeyAnnotationKey] = secret
		cert := &cmapi.Certificate{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: cr.Namespace, Name: certFor(secret)}, cert); err == nil {
			cr.OwnerReferences = []metav1.OwnerReference{*metav1.NewControllerRef(cert, cmapi.SchemeGroupVersion.WithKind(cmapi.CertificateKind))}
		}
	}
}

func readSecret(t *testing.T, ns, name string) *corev1.Secret {
	t.Helper()
	sec := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, sec); err != nil {
		t.Fatal(err)
	}
	return sec
}

func secretKey(t *testing.T, sec *corev1.Secret) crypto.Signer {
	t.Helper()
	b, _ := pem.Decode(sec.Data[corev1.TLSPrivateKeyKey])
	if b == nil {
		t.Fatalf("Secret %s has no PEM tls.key", sec.Name)
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatalf("Secret %s tls.key: %v", sec.Name, err)
	}
	return k.(crypto.Signer)
}

func TestDVOrderKeyAdoption(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{DVInstances: 3})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "dv", dvIssuerSpec(url))
	iss := waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	if n := iss.GetStatus().UsableInstances; n == nil || *n != 3 {
		t.Errorf("usableInstances %v, want 3", n)
	}

	names := []string{"www.example.com"}
	createNextKeySecret(t, ns, "web-next", keys.rsa2048)
	first := createCR(t, ns, "web-1", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}), withNextKey("web-next"))
	approve(t, first)
	cr := waitCR(t, first, signer.ReasonKeyAdopted, "cert-manager will re-issue", 60*time.Second)
	inst := cr.Annotations[v1alpha1.AnnotationInstanceID]
	if inst == "" {
		t.Fatalf("no instance annotation on the request: %v", cr.Annotations)
	}
	sec := readSecret(t, ns, "web-next")
	if sec.Annotations[v1alpha1.AnnotationInstanceID] != inst {
		t.Fatalf("Secret annotations %v, want instance %s", sec.Annotations, inst)
	}
	adopted := secretKey(t, sec)
	if ak, ok := adopted.(*rsa.PrivateKey); !ok || ak.N.BitLen() != 2048 || ak.Equal(keys.rsa2048) {
		t.Fatalf("tls.key was not replaced by an RSA 2048 server key")
	}
	if len(eventsFor(t, ns, "web-1", signer.ReasonKeyAdopted)) == 0 {
		t.Errorf("no KeyAdopted Event")
	}

	// cert-manager's replacement request, built from the adopted key.
	second := createCR(t, ns, "web-2", ref, makeCSR(t, csrSpec{key: adopted, cn: names[0], dns: names}), withNextKey("web-next"))
	approve(t, second)
	cr = waitIssued(t, second)
	verifyIssued(t, sim, cr, adopted, names)
	if len(cr.Status.CA) == 0 {
		t.Errorf("status.ca is empty")
	}
	if got := cr.Annotations[v1alpha1.AnnotationInstanceID]; got != inst {
		t.Errorf("replacement request records instance %q, want %q", got, inst)
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 1 {
		t.Fatalf("%d CreateDVOrderAudit calls, want 1", n)
	}

	// cert-manager deletes the replaced request: its order went to the
	// replacement, so nothing is cancelled.
	if err := env.Client.Delete(context.Background(), getCR(t, first)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), first, &cmapi.CertificateRequest{})
		return apierrors.IsNotFound(err), fmt.Sprint(err)
	})
	if ev := eventsFor(t, ns, "web-1", "OrderCancelled"); len(ev) > 0 {
		t.Errorf("the adopted order was reported cancelled: %s", ev[0].Note)
	}

	// Refused before ordering: a key Alibaba Cloud cannot produce.
	createNextKeySecret(t, ns, "ec-next", keys.rsa2048)
	ec := createCR(t, ns, "ec", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "ec.example.com"}), withNextKey("ec-next"))
	approve(t, ec)
	waitCR(t, ec, cmapi.CertificateRequestReasonFailed, "RSA 2048", 30*time.Second)

	// More requests than instances left (two): two are ordered at once on
	// different instances, the third waits and is not ordered.
	for i := range 3 {
		name := fmt.Sprintf("many-%d", i)
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			t.Fatal(err)
		}
		createNextKeySecret(t, ns, name+"-next", k)
		createCR(t, ns, name, ref, makeCSR(t, csrSpec{key: k, cn: name + ".example.com"}), withNextKey(name+"-next"))
	}
	for i := range 3 {
		approve(t, keyOf(ns, fmt.Sprintf("many-%d", i)))
	}
	eventually(t, 60*time.Second, func() (bool, string) {
		adoptedN, waiting := 0, 0
		var states []string
		for i := range 3 {
			cr := getCR(t, keyOf(ns, fmt.Sprintf("many-%d", i)))
			c := readyCond(cr)
			switch {
			case c == nil:
			case c.Reason == signer.ReasonKeyAdopted:
				adoptedN++
			case c.Status == cmmeta.ConditionFalse && strings.Contains(c.Message, "no usable DV instance"):
				waiting++
			}
			states = append(states, describeCR(cr))
		}
		return adoptedN == 2 && waiting == 1, strings.Join(states, "; ")
	})
	seen := map[string]string{}
	var list cmapi.CertificateRequestList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, cr := range list.Items {
		id := cr.Annotations[v1alpha1.AnnotationInstanceID]
		if id == "" || cr.Name == "web-2" {
			continue
		}
		if other, dup := seen[id]; dup {
			t.Errorf("instance %s held by %s and %s", id, other, cr.Name)
		}
		seen[id] = cr.Name
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 3 {
		t.Fatalf("%d CreateDVOrderAudit calls, want 3", n)
	}
	for _, cr := range list.Items {
		if c := readyCond(&cr); c != nil && strings.Contains(c.Message, "PRIVATE KEY") {
			t.Errorf("%s condition holds a key", cr.Name)
		}
	}
	assertNoLeaks(t, ns)
}
