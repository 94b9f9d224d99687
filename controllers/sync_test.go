package controllers_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The AliyunCASCertificateSync controller against the API server and the
// simulator: Secrets as cert-manager's CA issuer writes them (leaf, then the
// CA), uploads counted in the simulator's account.

// syncCA issues leaves the way a cert-manager CA issuer does.
type syncCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

func newSyncCA(t *testing.T) *syncCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(now.UnixNano()), Subject: pkix.Name{CommonName: "Sync Test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(30 * 24 * time.Hour), IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := x509.ParseCertificate(der)
	return &syncCA{cert: c, key: key}
}

// tlsPair is a tls.crt and tls.key.
type tlsPair struct {
	crt, key []byte
	leaf     *x509.Certificate
}

func (p tlsPair) fingerprint() string {
	sum := sha256.Sum256(p.leaf.Raw)
	return hex.EncodeToString(sum[:])
}

// issue makes a leaf for name valid from notBefore for validity.
func (ca *syncCA) issue(t *testing.T, name string, notBefore time.Time, validity time.Duration) tlsPair {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name}, DNSNames: []string{name},
		NotBefore: notBefore, NotAfter: notBefore.Add(validity), ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, _ := x509.ParseCertificate(der)
	kd, _ := x509.MarshalPKCS8PrivateKey(key)
	crt := append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: ca.cert.Raw})...)
	return tlsPair{crt: crt, key: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), leaf: leaf}
}

func (ca *syncCA) fresh(t *testing.T, name string) tlsPair {
	return ca.issue(t, name, time.Now().Add(-time.Minute), 24*time.Hour)
}

func putTLSSecret(t *testing.T, ns, name string, p tlsPair) {
	t.Helper()
	ctx := context.Background()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{corev1.TLSCertKey: p.crt, corev1.TLSPrivateKeyKey: p.key}}
	err := env.Client.Create(ctx, s)
	if apierrors.IsAlreadyExists(err) {
		old := &corev1.Secret{}
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(s), old); err != nil {
			t.Fatal(err)
		}
		old.Data = s.Data
		err = env.Client.Update(ctx, old)
	}
	if err != nil {
		t.Fatalf("writing Secret %s/%s: %v", ns, name, err)
	}
}

func syncOptions() controllers.Options {
	opts := testOptions()
	opts.Sync = controllers.SyncOptions{CheckInterval: time.Hour, SecretPollInterval: 2 * time.Second}
	return opts
}

// syncEnv is a namespace with an issuer on its own simulator.
type syncEnv struct {
	ns  string
	sim *aliyunsim.Simulator
	url string
	ref v1alpha1.SyncIssuerRef
	ca  *syncCA
}

func newSyncEnv(t *testing.T, simCfg aliyunsim.Config) *syncEnv {
	t.Helper()
	ns := newNamespace(t)
	sim, url := startSim(t, simCfg)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "cas", issuerSpec(url, "digicert-free-1-free"))
	return &syncEnv{ns: ns, sim: sim, url: url, ref: v1alpha1.SyncIssuerRef{Kind: ref.Kind, Name: ref.Name}, ca: newSyncCA(t)}
}

func (e *syncEnv) createSync(t *testing.T, name, secret string, mutate func(*v1alpha1.CertificateSyncSpec)) client.ObjectKey {
	t.Helper()
	s := &v1alpha1.AliyunCASCertificateSync{
		ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: name},
		Spec:       v1alpha1.CertificateSyncSpec{SecretName: secret, IssuerRef: e.ref},
	}
	if mutate != nil {
		mutate(&s.Spec)
	}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatalf("creating sync %s: %v", name, err)
	}
	t.Cleanup(func() {
		// Let the controller clean up while it runs; drop the finalizer
		// of a sync left behind.
		_ = env.Client.Delete(context.Background(), s)
	})
	return client.ObjectKeyFromObject(s)
}

func getSync(t *testing.T, key client.ObjectKey) *v1alpha1.AliyunCASCertificateSync {
	t.Helper()
	s := &v1alpha1.AliyunCASCertificateSync{}
	if err := env.Client.Get(context.Background(), key, s); err != nil {
		t.Fatalf("reading sync %s: %v", key, err)
	}
	return s
}

func describeSync(s *v1alpha1.AliyunCASCertificateSync) string {
	c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
	if c == nil {
		return "no Ready condition; status " + fmt.Sprintf("%+v", s.Status)
	}
	return fmt.Sprintf("Ready=%s reason=%s message=%q certId=%s gen=%d/%d", c.Status, c.Reason, c.Message, s.Status.CertID, c.ObservedGeneration, s.Generation)
}

// waitSync waits until the sync's Ready condition has status and reason,
// for its generation, and check (when set) holds.
func waitSync(t *testing.T, key client.ObjectKey, status metav1.ConditionStatus, reason string, timeout time.Duration, check func(*v1alpha1.AliyunCASCertificateSync) bool) *v1alpha1.AliyunCASCertificateSync {
	t.Helper()
	var s *v1alpha1.AliyunCASCertificateSync
	eventually(t, timeout, func() (bool, string) {
		s = getSync(t, key)
		c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		ok := c != nil && c.Status == status && c.Reason == reason && c.ObservedGeneration == s.Generation && (check == nil || check(s))
		return ok, describeSync(s)
	})
	return s
}

func waitUploaded(t *testing.T, key client.ObjectKey, p tlsPair) *v1alpha1.AliyunCASCertificateSync {
	t.Helper()
	return waitSync(t, key, metav1.ConditionTrue, controllers.ReasonUploaded, 30*time.Second, func(s *v1alpha1.AliyunCASCertificateSync) bool {
		return s.Status.Fingerprint == p.fingerprint()
	})
}

// uploads are the simulator's uploaded certificates.
func uploads(sim *aliyunsim.Simulator) []aliyunsim.UserCertState {
	var out []aliyunsim.UserCertState
	for _, c := range sim.State().UserCertificates {
		if c.Upload {
			out = append(out, c)
		}
	}
	return out
}

func uploadOf(sim *aliyunsim.Simulator, certID string) (aliyunsim.UserCertState, bool) {
	for _, c := range uploads(sim) {
		if fmt.Sprint(c.ID) == certID {
			return c, true
		}
	}
	return aliyunsim.UserCertState{}, false
}

// TestSyncFirstUpload: a Secret made by a CA issuer is uploaded once, with
// the chain, the name prefix, the fingerprint and the tags; the status says
// where; the steady state makes no call at all until the check is due.
func TestSyncFirstUpload(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	p := e.ca.fresh(t, "www.example.com")
	putTLSSecret(t, e.ns, "www-tls", p)
	startManager(t, syncOptions())
	key := e.createSync(t, "www", "www-tls", func(s *v1alpha1.CertificateSyncSpec) {
		s.Tags = map[string]string{"team": "web"}
	})
	s := waitUploaded(t, key, p)

	up, ok := uploadOf(e.sim, s.Status.CertID)
	if !ok {
		t.Fatalf("CertId %s is not in the account: %+v", s.Status.CertID, uploads(e.sim))
	}
	wantName := e.ns + "-www-tls-" + p.fingerprint()[:12]
	if len(e.ns+"-www-tls") > signer.MaxNamePrefix {
		wantName = strings.TrimRight((e.ns + "-www-tls")[:signer.MaxNamePrefix], "-.") + "-" + p.fingerprint()[:12]
	}
	if up.Name != wantName || s.Status.CertName != wantName {
		t.Errorf("name %q / status %q, want %q", up.Name, s.Status.CertName, wantName)
	}
	if up.Serial != p.leaf.SerialNumber.Text(16) || up.Tags["team"] != "web" {
		t.Errorf("upload %+v", up)
	}
	if s.Status.CertIdentifier != s.Status.CertID+"-cn-hangzhou" {
		t.Errorf("certIdentifier %q", s.Status.CertIdentifier)
	}
	if s.Status.NotAfter == nil || !s.Status.NotAfter.Time.Equal(p.leaf.NotAfter.Truncate(time.Second)) || s.Status.UploadedAt == nil {
		t.Errorf("notAfter %v, uploadedAt %v", s.Status.NotAfter, s.Status.UploadedAt)
	}
	if len(s.Finalizers) != 1 || s.Finalizers[0] != v1alpha1.FinalizerDeleteUploads {
		t.Errorf("finalizers %v", s.Finalizers)
	}
	calls := e.sim.State().Calls
	if calls["UploadUserCertificate"] != 1 || calls["ListUserCertificateOrder"] != 1 {
		t.Errorf("calls %v, want 1 ListUserCertificateOrder and 1 UploadUserCertificate", calls)
	}
	t.Logf("calls per upload: %v", calls)
	// Secret polls and re-reconciles make no Alibaba Cloud call until the
	// check is due (an hour here).
	consistently(t, 5*time.Second, func() (bool, string) {
		c := e.sim.State().Calls
		return c["UploadUserCertificate"] == 1 && c["ListUserCertificateOrder"] == 1 && c["GetUserCertificateDetail"] == 0, fmt.Sprint(c)
	})
}

// TestSyncNoSecondUpload: after a restart that lost the status (a crash
// between the upload and its record), the upload is found by name, not
// uploaded again; a restart with the status makes no call.
func TestSyncNoSecondUpload(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	p := e.ca.fresh(t, "restart.example.com")
	putTLSSecret(t, e.ns, "restart-tls", p)
	m := startManager(t, syncOptions())
	key := e.createSync(t, "restart", "restart-tls", nil)
	first := waitUploaded(t, key, p)
	m.stop(t)

	// The status is lost, as if the process died before writing it.
	s := getSync(t, key)
	s.Status = v1alpha1.CertificateSyncStatus{}
	if err := env.Client.Status().Update(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	startManager(t, syncOptions())
	again := waitUploaded(t, key, p)
	if again.Status.CertID != first.Status.CertID {
		t.Errorf("CertId %s after the restart, want %s", again.Status.CertID, first.Status.CertID)
	}
	if n := e.sim.State().Calls["UploadUserCertificate"]; n != 1 || len(uploads(e.sim)) != 1 {
		t.Fatalf("%d UploadUserCertificate calls, %d uploads: want 1 each", n, len(uploads(e.sim)))
	}
	if len(eventsFor(t, e.ns, key.Name, "UploadFound")) == 0 {
		t.Error("no UploadFound Event")
	}
}

// TestSyncFaults: with 30% of calls failing, half of them after the action
// took effect (the answer is lost), each certificate is uploaded exactly
// once.
func TestSyncFaults(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{FaultRate: 0.3, FaultHang: 2 * time.Second})
	opts := syncOptions()
	opts.CallTimeout = time.Second
	startManager(t, opts)
	const n = 6
	var keys []client.ObjectKey
	var pairs []tlsPair
	for i := range n {
		p := e.ca.fresh(t, fmt.Sprintf("f%d.example.com", i))
		putTLSSecret(t, e.ns, fmt.Sprintf("f%d-tls", i), p)
		keys = append(keys, e.createSync(t, fmt.Sprintf("f%d", i), fmt.Sprintf("f%d-tls", i), nil))
		pairs = append(pairs, p)
	}
	for i, k := range keys {
		waitSync(t, k, metav1.ConditionTrue, controllers.ReasonUploaded, 90*time.Second, func(s *v1alpha1.AliyunCASCertificateSync) bool {
			return s.Status.Fingerprint == pairs[i].fingerprint()
		})
	}
	e.sim.SetFaultRate(0)
	st := e.sim.State()
	if st.Faults == 0 {
		t.Fatal("no fault was injected: the test proves nothing")
	}
	if got := len(uploads(e.sim)); got != n {
		t.Fatalf("%d uploads for %d certificates: %+v", got, n, uploads(e.sim))
	}
	t.Logf("faults %d, calls %v", st.Faults, st.Calls)
	consistently(t, 3*time.Second, func() (bool, string) {
		return len(uploads(e.sim)) == n, fmt.Sprint(len(uploads(e.sim)))
	})
}

// TestSyncRenewal: a renewed Secret is uploaded, the Service target follows
// it, and the replaced upload is deleted after retainPrevious.
func TestSyncRenewal(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	p1 := e.ca.fresh(t, "lb.example.com")
	putTLSSecret(t, e.ns, "lb-tls", p1)
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "ingress-clb"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}}
	if err := env.Client.Create(context.Background(), svc); err != nil {
		t.Fatal(err)
	}
	startManager(t, syncOptions())
	key := e.createSync(t, "lb", "lb-tls", func(s *v1alpha1.CertificateSyncSpec) {
		s.RetainPrevious = &metav1.Duration{Duration: 3 * time.Second}
		s.Targets = &v1alpha1.SyncTargets{Services: []string{"ingress-clb"}}
	})
	first := waitUploaded(t, key, p1)
	waitAnnotation(t, e.ns, "ingress-clb", first.Status.CertIdentifier)

	p2 := e.ca.fresh(t, "lb.example.com")
	putTLSSecret(t, e.ns, "lb-tls", p2)
	second := waitUploaded(t, key, p2)
	if second.Status.CertID == first.Status.CertID {
		t.Fatal("the renewal kept the old CertId")
	}
	waitAnnotation(t, e.ns, "ingress-clb", second.Status.CertIdentifier)
	if len(second.Status.Previous) != 1 || second.Status.Previous[0].CertID != first.Status.CertID ||
		second.Status.Previous[0].DeleteAfter.Time.Before(second.Status.UploadedAt.Time.Add(3*time.Second)) {
		t.Errorf("previous %+v: want %s, deleted no earlier than 3s after %s", second.Status.Previous, first.Status.CertID, second.Status.UploadedAt)
	}
	if _, ok := uploadOf(e.sim, first.Status.CertID); !ok && time.Now().Before(second.Status.Previous[0].DeleteAfter.Time) {
		t.Error("the replaced upload was deleted before retainPrevious")
	}
	// After retainPrevious the old upload is gone from CAS and the status.
	eventually(t, 20*time.Second, func() (bool, string) {
		s := getSync(t, key)
		_, stillThere := uploadOf(e.sim, first.Status.CertID)
		return !stillThere && len(s.Status.Previous) == 0, fmt.Sprintf("old upload present=%v previous=%v", stillThere, s.Status.Previous)
	})
	if _, ok := uploadOf(e.sim, second.Status.CertID); !ok {
		t.Fatal("the current upload was deleted")
	}
	if n := e.sim.State().Calls["UploadUserCertificate"]; n != 2 {
		t.Errorf("%d uploads for two certificates", n)
	}
}

func waitAnnotation(t *testing.T, ns, name, want string) {
	t.Helper()
	eventually(t, 20*time.Second, func() (bool, string) {
		s := &corev1.Service{}
		if err := env.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			return false, err.Error()
		}
		got := s.Annotations[v1alpha1.AnnotationLoadBalancerCertID]
		return got == want, fmt.Sprintf("annotation %q, want %q", got, want)
	})
}

// TestSyncDeletion: deletionPolicy Delete removes the uploads (current and
// replaced) from CAS before the sync goes; Retain leaves them.
func TestSyncDeletion(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	startManager(t, syncOptions())
	pd, pr := e.ca.fresh(t, "del.example.com"), e.ca.fresh(t, "keep.example.com")
	putTLSSecret(t, e.ns, "del-tls", pd)
	putTLSSecret(t, e.ns, "keep-tls", pr)
	del := e.createSync(t, "del", "del-tls", func(s *v1alpha1.CertificateSyncSpec) {
		s.RetainPrevious = &metav1.Duration{Duration: time.Hour}
	})
	keep := e.createSync(t, "keep", "keep-tls", func(s *v1alpha1.CertificateSyncSpec) {
		s.DeletionPolicy = v1alpha1.DeletionPolicyRetain
	})
	first := waitUploaded(t, del, pd)
	// A renewal leaves a replaced upload retained for an hour.
	pd2 := e.ca.fresh(t, "del.example.com")
	putTLSSecret(t, e.ns, "del-tls", pd2)
	second := waitUploaded(t, del, pd2)
	kept := waitUploaded(t, keep, pr)
	if len(second.Status.Previous) != 1 || second.Status.Previous[0].CertID != first.Status.CertID {
		t.Fatalf("previous %+v", second.Status.Previous)
	}

	for _, k := range []client.ObjectKey{del, keep} {
		if err := env.Client.Delete(context.Background(), getSync(t, k)); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []client.ObjectKey{del, keep} {
		eventually(t, 20*time.Second, func() (bool, string) {
			err := env.Client.Get(context.Background(), k, &v1alpha1.AliyunCASCertificateSync{})
			return apierrors.IsNotFound(err), fmt.Sprintf("sync %s still there: %v", k.Name, err)
		})
	}
	for _, id := range []string{first.Status.CertID, second.Status.CertID} {
		if _, ok := uploadOf(e.sim, id); ok {
			t.Errorf("CAS certificate %s survived deletionPolicy Delete", id)
		}
	}
	if _, ok := uploadOf(e.sim, kept.Status.CertID); !ok {
		t.Errorf("CAS certificate %s was deleted despite deletionPolicy Retain", kept.Status.CertID)
	}
}

// TestSyncCheckReuploads: the periodic check (one call) finds an upload
// someone deleted and uploads the certificate again.
func TestSyncCheckReuploads(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	p := e.ca.fresh(t, "check.example.com")
	putTLSSecret(t, e.ns, "check-tls", p)
	opts := syncOptions()
	opts.Sync.CheckInterval = 2 * time.Second
	startManager(t, opts)
	key := e.createSync(t, "check", "check-tls", nil)
	first := waitUploaded(t, key, p)
	// Checks happen, one call each, and change nothing.
	eventually(t, 15*time.Second, func() (bool, string) {
		c := e.sim.State().Calls
		return c["GetUserCertificateDetail"] >= 2, fmt.Sprint(c)
	})
	c := e.sim.State().Calls
	if c["UploadUserCertificate"] != 1 || c["ListUserCertificateOrder"] != 1 {
		t.Fatalf("checks made other calls: %v", c)
	}
	t.Logf("calls after %d checks: %v", c["GetUserCertificateDetail"], c)

	up, err := signer.NewUploader(signer.Config{Endpoint: e.url, Credentials: signer.Credentials{AccessKeyID: testKeyID, AccessKeySecret: testKeySecret},
		Endpoints: signer.EndpointPolicy{AllowInsecure: true}}, signer.UploadAPI20200407) // the simulator serves http
	if err != nil {
		t.Fatal(err)
	}
	if err := up.Delete(context.Background(), signer.UploadAPI20200407, first.Status.CertID); err != nil {
		t.Fatal(err)
	}
	again := waitSync(t, key, metav1.ConditionTrue, controllers.ReasonUploaded, 20*time.Second, func(s *v1alpha1.AliyunCASCertificateSync) bool {
		return s.Status.CertID != first.Status.CertID && s.Status.CertID != ""
	})
	if _, ok := uploadOf(e.sim, again.Status.CertID); !ok || len(uploads(e.sim)) != 1 {
		t.Fatalf("uploads %+v, want only %s", uploads(e.sim), again.Status.CertID)
	}
	if len(eventsFor(t, e.ns, key.Name, "UploadMissing")) == 0 {
		t.Error("no UploadMissing Event")
	}
}

// TestSyncBadInput: every bad input has its own reason, and nothing is
// uploaded.
func TestSyncBadInput(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	startManager(t, syncOptions())
	ctx := context.Background()
	good := e.ca.fresh(t, "bad.example.com")
	other := e.ca.fresh(t, "other.example.com")

	opaque := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: e.ns, Name: "opaque"},
		Data: map[string][]byte{corev1.TLSCertKey: good.crt, corev1.TLSPrivateKeyKey: good.key}}
	if err := env.Client.Create(ctx, opaque); err != nil {
		t.Fatal(err)
	}
	putTLSSecret(t, e.ns, "mismatch", tlsPair{crt: good.crt, key: other.key})
	putTLSSecret(t, e.ns, "garbage", tlsPair{crt: []byte("-----BEGIN CERTIFICATE-----\nMIIBAAAA\n-----END CERTIFICATE-----\n"), key: good.key})
	expired := e.ca.issue(t, "old.example.com", time.Now().Add(-48*time.Hour), 24*time.Hour)
	putTLSSecret(t, e.ns, "expired", expired)
	putTLSSecret(t, e.ns, "good", good)

	cases := []struct {
		name, secret, reason string
		mutate               func(*v1alpha1.CertificateSyncSpec)
	}{
		{"missing", "no-such-secret", v1alpha1.ReasonSecretNotFound, nil},
		{"opaque", "opaque", controllers.ReasonSecretNotTLS, nil},
		{"mismatch", "mismatch", signer.ReasonKeyMismatch, nil},
		{"garbage", "garbage", signer.ReasonInvalidCertificate, nil},
		{"expired", "expired", signer.ReasonCertificateExpired, nil},
		{"no-issuer", "good", controllers.ReasonIssuerNotFound, func(s *v1alpha1.CertificateSyncSpec) { s.IssuerRef.Name = "nope" }},
		{"no-cluster-issuer", "good", controllers.ReasonIssuerNotFound, func(s *v1alpha1.CertificateSyncSpec) {
			s.IssuerRef = v1alpha1.SyncIssuerRef{Kind: v1alpha1.ClusterIssuerKind, Name: "nope-" + e.ns}
		}},
		{"long-prefix", "good", signer.ReasonNamePrefixTooLong, func(s *v1alpha1.CertificateSyncSpec) { s.NamePrefix = strings.Repeat("p", signer.MaxNamePrefix+1) }},
	}
	// An issuer whose credentials Secret does not exist.
	spec := issuerSpec(e.url, "digicert-free-1-free")
	spec.Auth.AccessKeySecretRef.Name = "no-credentials"
	createIssuer(t, e.ns, "nocreds", spec)
	cases = append(cases, struct {
		name, secret, reason string
		mutate               func(*v1alpha1.CertificateSyncSpec)
	}{"no-credentials", "good", "IssuerSecretNotFound", func(s *v1alpha1.CertificateSyncSpec) { s.IssuerRef.Name = "nocreds" }})

	var keys []client.ObjectKey
	for _, tc := range cases {
		keys = append(keys, e.createSync(t, tc.name, tc.secret, tc.mutate))
	}
	for i, tc := range cases {
		s := waitSync(t, keys[i], metav1.ConditionFalse, tc.reason, 30*time.Second, nil)
		c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		if strings.Contains(c.Message, "PRIVATE KEY") || s.Status.CertID != "" {
			t.Errorf("%s: message %q, certId %q", tc.name, c.Message, s.Status.CertID)
		}
		if len(eventsFor(t, e.ns, tc.name, tc.reason)) == 0 {
			t.Errorf("%s: no %s Event", tc.name, tc.reason)
		}
	}
	calls := e.sim.State().Calls
	if len(uploads(e.sim)) != 0 || calls["UploadUserCertificate"] != 0 || calls["ListUserCertificateOrder"] != 0 {
		t.Fatalf("bad input reached CAS: uploads %+v, calls %v", uploads(e.sim), calls)
	}
	// Fixing the input fixes the sync: the missing Secret appears.
	putTLSSecret(t, e.ns, "no-such-secret", good)
	waitUploaded(t, keys[0], good)
}

// TestSyncLegacyAPI: api 2018-07-13 uploads with CreateUserCertificate after
// one DescribeUserCertificateList page, checks with
// DescribeUserCertificateDetail, and deletes with the same version.
func TestSyncLegacyAPI(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	p := e.ca.fresh(t, "legacy.example.com")
	putTLSSecret(t, e.ns, "legacy-tls", p)
	opts := syncOptions()
	opts.Sync.CheckInterval = 2 * time.Second
	startManager(t, opts)
	key := e.createSync(t, "legacy", "legacy-tls", func(s *v1alpha1.CertificateSyncSpec) {
		s.API = v1alpha1.UploadAPI20180713
		s.Tags = map[string]string{"ignored": "by this version"}
	})
	s := waitUploaded(t, key, p)
	if s.Status.API != v1alpha1.UploadAPI20180713 {
		t.Errorf("status.api %q", s.Status.API)
	}
	eventually(t, 15*time.Second, func() (bool, string) {
		c := e.sim.State().Calls
		return c["DescribeUserCertificateDetail"] >= 1, fmt.Sprint(c)
	})
	c := e.sim.State().Calls
	if c["CreateUserCertificate"] != 1 || c["DescribeUserCertificateList"] != 1 || c["UploadUserCertificate"] != 0 || c["GetUserCertificateDetail"] != 0 {
		t.Fatalf("calls %v", c)
	}
	t.Logf("2018-07-13 calls after %d checks: %v", c["DescribeUserCertificateDetail"], c)
	if err := env.Client.Delete(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	eventually(t, 20*time.Second, func() (bool, string) {
		_, ok := uploadOf(e.sim, s.Status.CertID)
		return !ok, "the upload is still there"
	})
	if e.sim.State().Calls["DeleteUserCertificate"] != 1 {
		t.Errorf("calls %v", e.sim.State().Calls)
	}
}

// TestSyncKeyNeverLeaks: the key's bytes (not just its PEM header) appear
// in no log line, Event, condition or status of a sync, through an upload,
// a failure and a deletion.
func TestSyncKeyNeverLeaks(t *testing.T) {
	e := newSyncEnv(t, aliyunsim.Config{})
	p := e.ca.fresh(t, "leak.example.com")
	other := e.ca.fresh(t, "leak2.example.com")
	putTLSSecret(t, e.ns, "leak-tls", p)
	startManager(t, syncOptions())
	key := e.createSync(t, "leak", "leak-tls", nil)
	waitUploaded(t, key, p)
	putTLSSecret(t, e.ns, "leak-tls", tlsPair{crt: p.crt, key: other.key})
	waitSync(t, key, metav1.ConditionFalse, signer.ReasonKeyMismatch, 20*time.Second, nil)
	s := getSync(t, key)

	var needles []string
	for _, k := range [][]byte{p.key, other.key} {
		// 30 characters of the first base64 line, which a log line would
		// carry unbroken.
		lines := strings.Split(string(k), "\n")
		needles = append(needles, lines[1][10:40])
	}
	var haystack strings.Builder
	haystack.WriteString(logs.all())
	for _, ev := range listEvents(t, e.ns) {
		haystack.WriteString(ev.Note)
	}
	haystack.WriteString(fmt.Sprintf("%+v", s.Status))
	for _, n := range needles {
		if strings.Contains(haystack.String(), n) {
			t.Fatalf("a private key's bytes leaked (%q)", n)
		}
	}
}
