package controllers_test

// The tests in this package run the controllers in process against a real
// kube-apiserver and etcd (internal/testenv) and the Alibaba Cloud simulator
// (e2e/aliyunsim), which the signer reaches over HTTP with the official SDK.

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"regexp"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testcsr"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

const (
	testKeyID     = "test-key-id-0001"
	testKeySecret = "sEcReT-9f8e7d6c5b4a-do-not-log"
	secretName    = "aliyun-credentials"
	clusterNS     = "cert-manager" // the cluster resource namespace
)

var (
	env  *testenv.Env
	logs = &logCapture{}
)

func TestMain(m *testing.M) {
	// Capture everything the controllers (and client-go) log, to prove no
	// secret ever reaches a log line.
	logger := funcr.New(logs.write, funcr.Options{Verbosity: 2})
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	testenv.NoCloudMetadata()
	os.Exit(testenv.Run(m, &env))
}

// logCapture keeps every log line.
type logCapture struct {
	mu    sync.Mutex
	lines []string
}

func (l *logCapture) write(prefix, args string) {
	line := prefix + " " + args
	l.mu.Lock()
	l.lines = append(l.lines, line)
	l.mu.Unlock()
	if os.Getenv("TEST_LOGS") != "" {
		fmt.Fprintln(os.Stderr, line)
	}
}

// last is the last n lines that mention name.
func (l *logCapture) last(name string, n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for i := len(l.lines) - 1; i >= 0 && len(out) < n; i-- {
		if strings.Contains(l.lines[i], name) {
			out = append(out, l.lines[i])
		}
	}
	slices.Reverse(out)
	return strings.Join(out, "\n")
}

func (l *logCapture) all() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// ---- manager ----

// testOptions are fast settings for tests.
func testOptions() controllers.Options {
	return controllers.Options{
		ClusterResourceNamespace: clusterNS,
		StateKeyNamespace:        "default",
		MaxConcurrentReconciles:  4,
		HealthCheckInterval:      10 * time.Minute, // re-checks in tests come from watches
		MinRetryDelay:            200 * time.Millisecond,
		MaxRetryDelay:            3 * time.Second,
		MaxPollInterval:          4 * time.Second,
		RateLimit:                50,
		Burst:                    50,
		CallTimeout:              5 * time.Second,
		SignTimeout:              30 * time.Second,
		CancelGiveUp:             20 * time.Second,
		OrderSettleTime:          5 * time.Second, // the simulator lists an order at once
		// The simulator serves plain http on loopback.
		AllowInsecureEndpoints: true,
	}
}

type manager struct {
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startManager runs the controllers in process until the test ends (or
// stop is called).
func startManager(t *testing.T, opts controllers.Options) *manager {
	t.Helper()
	// The caches as the binary configures them (what they drop is never read).
	return startManagerWithCache(t, opts, controllers.CacheOptions("", opts.ClusterResourceNamespace))
}

func startManagerWithCache(t *testing.T, opts controllers.Options, cacheOpts cache.Options) *manager {
	t.Helper()
	return startManagerWithConfig(t, env.Config, opts, cacheOpts)
}

// startManagerWithConfig runs the controllers with their own client
// configuration (e.g. one that counts their requests).
func startManagerWithConfig(t *testing.T, cfg *rest.Config, opts controllers.Options, cacheOpts cache.Options) *manager {
	t.Helper()
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  cacheOpts,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             config.Controller{SkipNameValidation: &skip},
		Logger:                 ctrl.Log.WithName(t.Name()),
	})
	if err != nil {
		t.Fatalf("creating manager: %v", err)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		t.Fatalf("setting up controllers: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	m := &manager{cancel: cancel, done: make(chan error, 1)}
	go func() { m.done <- mgr.Start(ctx) }()
	t.Cleanup(func() { m.stop(t) })
	return m
}

func (m *manager) stop(t *testing.T) {
	m.once.Do(func() {
		m.cancel()
		select {
		case err := <-m.done:
			if err != nil {
				t.Errorf("manager: %v\n%s\nits last log lines:\n%s", err, ownGoroutines(), logs.last(t.Name(), 60))
			}
		case <-time.After(60 * time.Second):
			t.Errorf("manager did not stop\n%s", ownGoroutines())
		}
	})
}

// ownGoroutines is the stacks of the goroutines running this module's
// code outside the tests: what kept a manager from stopping.
func ownGoroutines() string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		if (strings.Contains(g, "aliyun-cas-issuer/") || strings.Contains(g, "controller-runtime") || strings.Contains(g, "alibabacloud")) && !strings.Contains(g, "controllers_test.") {
			out = append(out, g)
		}
	}
	return strings.Join(out, "\n\n")
}

// ---- simulator ----

func startSim(t *testing.T, cfg aliyunsim.Config) (*aliyunsim.Simulator, string) {
	t.Helper()
	if cfg.AccessKeys == nil {
		cfg.AccessKeys = map[string]string{testKeyID: testKeySecret}
	}
	if cfg.Zones == nil {
		cfg.Zones = []string{"example.com"}
	}
	sim, err := aliyunsim.New(cfg)
	if err != nil {
		t.Fatalf("simulator: %v", err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatalf("starting simulator: %v", err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	return sim, url
}

func orderCount(sim *aliyunsim.Simulator) int { return len(sim.State().Orders) }

// ---- Kubernetes objects ----

var nsSeq struct {
	sync.Mutex
	n int
}

// newNamespace creates a namespace for one test; objects in it are checked
// for leaked secrets when the test ends.
func newNamespace(t *testing.T) string {
	t.Helper()
	nsSeq.Lock()
	nsSeq.n++
	name := fmt.Sprintf("t%d-%s", nsSeq.n, strings.ToLower(regexp.MustCompile(`[^A-Za-z0-9]+`).ReplaceAllString(t.Name(), "-")))
	nsSeq.Unlock()
	if len(name) > 50 {
		name = strings.TrimRight(name[:50], "-")
	}
	ensureNamespace(t, name)
	t.Cleanup(func() { assertNoLeaks(t, name) })
	return name
}

func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("creating namespace %s: %v", name, err)
	}
}

func createSecret(t *testing.T, ns, name string, data map[string]string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data}
	if err := env.Client.Create(context.Background(), s); err != nil {
		t.Fatalf("creating secret: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), s) })
	return s
}

func credentials(id, secret string) map[string]string {
	return map[string]string{"access-key-id": id, "access-key-secret": secret}
}

func issuerSpec(endpoint, product string) v1alpha1.IssuerSpec {
	return v1alpha1.IssuerSpec{
		Endpoint:     endpoint,
		Auth:         v1alpha1.Auth{AccessKeySecretRef: &v1alpha1.AccessKeySecretRef{Name: secretName}},
		OrderAPI:     v1alpha1.OrderAPICSR, // the suite's package flow; the default is Instance
		ProductCode:  product,
		Contact:      v1alpha1.Contact{Username: "Ops", Email: "ops@example.com", Phone: "13800000000"},
		PollInterval: &metav1.Duration{Duration: time.Second},
	}
}

func createIssuer(t *testing.T, ns, name string, spec v1alpha1.IssuerSpec) cmmeta.IssuerReference {
	t.Helper()
	iss := &v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec}
	if err := env.Client.Create(context.Background(), iss); err != nil {
		t.Fatalf("creating issuer: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), iss) })
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.IssuerKind, Name: name}
}

func createClusterIssuer(t *testing.T, name string, spec v1alpha1.IssuerSpec) cmmeta.IssuerReference {
	t.Helper()
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := env.Client.Create(context.Background(), iss); err != nil {
		t.Fatalf("creating cluster issuer: %v", err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(context.Background(), iss) })
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.ClusterIssuerKind, Name: name}
}

func getIssuer(t *testing.T, ns string, ref cmmeta.IssuerReference) v1alpha1.GenericIssuer {
	t.Helper()
	iss := v1alpha1.NewIssuer(ref.Kind)
	key := client.ObjectKey{Name: ref.Name}
	if !iss.IsClusterScoped() {
		key.Namespace = ns
	}
	if err := env.Client.Get(context.Background(), key, iss); err != nil {
		t.Fatalf("reading issuer: %v", err)
	}
	return iss
}

// waitIssuer waits until the issuer's Ready condition matches.
func waitIssuer(t *testing.T, ns string, ref cmmeta.IssuerReference, status metav1.ConditionStatus, reason string) v1alpha1.GenericIssuer {
	t.Helper()
	var iss v1alpha1.GenericIssuer
	eventually(t, 30*time.Second, func() (bool, string) {
		iss = getIssuer(t, ns, ref)
		c := v1alpha1.ReadyCondition(iss)
		if c == nil {
			return false, "no Ready condition"
		}
		ok := c.Status == status && (reason == "" || c.Reason == reason) && c.ObservedGeneration == iss.GetGeneration()
		return ok, fmt.Sprintf("Ready=%s reason=%s message=%q", c.Status, c.Reason, c.Message)
	})
	return iss
}

// ---- CSRs ----

var keys struct {
	once             sync.Once
	rsa2048, rsa1024 *rsa.PrivateKey
	p256, p384, p521 *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
	rsa2048Other     *rsa.PrivateKey
}

func testKeys(t *testing.T) {
	t.Helper()
	keys.once.Do(func() {
		var err error
		must := func(e error) {
			if e != nil && err == nil {
				err = e
			}
		}
		var e error
		keys.rsa2048, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keys.rsa2048Other, e = rsa.GenerateKey(rand.Reader, 2048)
		must(e)
		keys.rsa1024, e = rsa.GenerateKey(rand.Reader, 1024)
		must(e)
		keys.p256, e = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		must(e)
		keys.p384, e = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		must(e)
		keys.p521, e = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
		must(e)
		_, keys.ed, e = ed25519.GenerateKey(rand.Reader)
		must(e)
		if err != nil {
			panic(err)
		}
	})
}

type csrSpec struct {
	key    crypto.Signer
	cn     string
	dns    []string
	ips    []net.IP
	emails []string
	ca     bool
}

func makeCSR(t *testing.T, s csrSpec) []byte {
	t.Helper()
	return testcsr.PEM(t, testcsr.Spec{Key: s.key, CommonName: s.cn, DNSNames: s.dns, IPAddresses: s.ips, EmailAddresses: s.emails, IsCA: s.ca})
}

// ---- CertificateRequests ----

type crOption func(*cmapi.CertificateRequest)

func withDuration(d time.Duration) crOption {
	return func(cr *cmapi.CertificateRequest) { cr.Spec.Duration = &metav1.Duration{Duration: d} }
}

func withIsCA() crOption { return func(cr *cmapi.CertificateRequest) { cr.Spec.IsCA = true } }

func withUsages(u ...cmapi.KeyUsage) crOption {
	return func(cr *cmapi.CertificateRequest) { cr.Spec.Usages = u }
}

func createCR(t *testing.T, ns, name string, ref cmmeta.IssuerReference, csr []byte, opts ...crOption) client.ObjectKey {
	t.Helper()
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: cmapi.CertificateRequestSpec{
			IssuerRef: ref,
			Request:   csr,
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageKeyEncipherment, cmapi.UsageServerAuth},
		},
	}
	for _, o := range opts {
		o(cr)
	}
	if err := env.Client.Create(context.Background(), cr); err != nil {
		t.Fatalf("creating CertificateRequest %s: %v", name, err)
	}
	return client.ObjectKeyFromObject(cr)
}

func getCR(t *testing.T, key client.ObjectKey) *cmapi.CertificateRequest {
	t.Helper()
	cr := &cmapi.CertificateRequest{}
	if err := env.Client.Get(context.Background(), key, cr); err != nil {
		t.Fatalf("reading %s: %v", key, err)
	}
	return cr
}

// setDecision sets Approved or Denied through the status subresource, as
// cert-manager's approver does. replace drops an earlier decision (only
// possible without cert-manager's webhook; used to deny a request whose
// order is already placed).
func setDecision(t *testing.T, key client.ObjectKey, typ cmapi.CertificateRequestConditionType, replace bool) {
	t.Helper()
	eventually(t, 10*time.Second, func() (bool, string) {
		cr := getCR(t, key)
		var conds []cmapi.CertificateRequestCondition
		for _, c := range cr.Status.Conditions {
			if replace && (c.Type == cmapi.CertificateRequestConditionApproved || c.Type == cmapi.CertificateRequestConditionDenied) {
				continue
			}
			conds = append(conds, c)
		}
		now := metav1.Now()
		conds = append(conds, cmapi.CertificateRequestCondition{
			Type: typ, Status: cmmeta.ConditionTrue, Reason: "test.example.com", Message: "decided by the test", LastTransitionTime: &now,
		})
		cr.Status.Conditions = conds
		if err := env.Client.Status().Update(context.Background(), cr); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

func approve(t *testing.T, key client.ObjectKey) {
	t.Helper()
	setDecision(t, key, cmapi.CertificateRequestConditionApproved, false)
}

// orderIDOf is the CAS order a request records: in its annotations, or,
// while the order id learned from the create's answer rides on the status
// alone (until the finalizer's removal), in the order state mirror.
func orderIDOf(cr *cmapi.CertificateRequest) string {
	if id := cr.Annotations[v1alpha1.AnnotationOrderID]; id != "" {
		return id
	}
	for _, c := range cr.Status.Conditions {
		if c.Type == v1alpha1.AnnotationPrefix+"OrderState" {
			var m struct {
				OrderID string `json:"orderID"`
			}
			if json.Unmarshal([]byte(c.Message), &m) == nil {
				return m.OrderID
			}
		}
	}
	return ""
}

func readyCond(cr *cmapi.CertificateRequest) *cmapi.CertificateRequestCondition {
	for i := range cr.Status.Conditions {
		if cr.Status.Conditions[i].Type == cmapi.CertificateRequestConditionReady {
			return &cr.Status.Conditions[i]
		}
	}
	return nil
}

func describeCR(cr *cmapi.CertificateRequest) string {
	c := readyCond(cr)
	if c == nil {
		return "no Ready condition"
	}
	return fmt.Sprintf("Ready=%s reason=%s message=%q", c.Status, c.Reason, c.Message)
}

// waitCR waits until the request's Ready condition has the reason and its
// message contains msg.
func waitCR(t *testing.T, key client.ObjectKey, reason, msg string, timeout time.Duration) *cmapi.CertificateRequest {
	t.Helper()
	var cr *cmapi.CertificateRequest
	eventually(t, timeout, func() (bool, string) {
		cr = getCR(t, key)
		c := readyCond(cr)
		return c != nil && c.Reason == reason && strings.Contains(c.Message, msg), describeCR(cr)
	})
	return cr
}

func waitIssued(t *testing.T, key client.ObjectKey) *cmapi.CertificateRequest {
	t.Helper()
	return waitCR(t, key, cmapi.CertificateRequestReasonIssued, "", 60*time.Second)
}

// verifyIssued checks the chain: it verifies against the simulator's root
// for every name, and the leaf holds the CSR's key.
func verifyIssued(t *testing.T, sim *aliyunsim.Simulator, cr *cmapi.CertificateRequest, key crypto.Signer, names []string) *x509.Certificate {
	t.Helper()
	var certs []*x509.Certificate
	rest := cr.Status.Certificate
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			t.Fatalf("status.certificate holds a bad certificate: %v", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		t.Fatalf("status.certificate is empty")
	}
	if bytes.Contains(cr.Status.Certificate, []byte("\r")) {
		t.Errorf("status.certificate has CR line endings")
	}
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(sim.RootPEM()) {
		t.Fatal("simulator root does not parse")
	}
	inter := x509.NewCertPool()
	for _, c := range certs[1:] {
		inter.AddCert(c)
	}
	leaf := certs[0]
	for _, n := range names {
		n = strings.Replace(n, "*.", "x.", 1)
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: n, Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("chain does not verify for %s: %v", n, err)
		}
	}
	type equaler interface{ Equal(crypto.PublicKey) bool }
	if pk, ok := leaf.PublicKey.(equaler); !ok || !pk.Equal(key.Public()) {
		t.Errorf("the certificate is not for the CSR's key")
	}
	if len(cr.Status.CA) > 0 && !bytes.Equal(bytes.TrimSpace(cr.Status.CA), bytes.TrimSpace(sim.RootPEM())) {
		t.Errorf("status.ca is not the simulator's root")
	}
	return leaf
}

// ---- events and leaks ----

func listEvents(t *testing.T, ns string) []eventsv1.Event {
	t.Helper()
	var list eventsv1.EventList
	if err := env.Client.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatalf("listing events: %v", err)
	}
	return list.Items
}

// eventsFor returns the Events about one object with the given reason.
func eventsFor(t *testing.T, ns, name, reason string) []eventsv1.Event {
	t.Helper()
	var out []eventsv1.Event
	for _, e := range listEvents(t, ns) {
		if e.Regarding.Name == name && (reason == "" || e.Reason == reason) {
			out = append(out, e)
		}
	}
	return out
}

var signatureValue = regexp.MustCompile(`Signature=[^\[\s&"',]`)

// leaks reports the secrets, private keys and signatures in text.
func leaks(text string) []string {
	var found []string
	for _, bad := range []string{testKeySecret, "wrong-secret-value-123", "PRIVATE KEY"} {
		if strings.Contains(text, bad) {
			found = append(found, bad)
		}
	}
	if m := signatureValue.FindString(text); m != "" {
		found = append(found, m)
	}
	return found
}

// assertNoLeaks scans the logs so far and the Events of ns (and of cluster
// issuers, recorded in "default") for secrets.
func assertNoLeaks(t *testing.T, ns string) {
	t.Helper()
	if found := leaks(logs.all()); len(found) > 0 {
		t.Errorf("logs leak %q", found)
	}
	for _, n := range []string{ns, "default"} {
		for _, e := range listEvents(t, n) {
			if found := leaks(e.Note + " " + e.Reason); len(found) > 0 {
				t.Errorf("event %s/%s leaks %q: %s", e.Namespace, e.Name, found, e.Note)
			}
		}
	}
}

// ---- polling ----

func eventually(t *testing.T, timeout time.Duration, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	last := ""
	for {
		ok, msg := f()
		if ok {
			return
		}
		last = msg
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s: %s", timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// consistently checks f stays true for d.
func consistently(t *testing.T, d time.Duration, f func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if ok, msg := f(); !ok {
			t.Fatalf("condition broke: %s", msg)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// crashOnce gives test options whose signers are wrapped by wrap, and a
// channel closed the first time a wrapped signer calls its crash func (the
// moment the test stops the manager, as a dying process would).
func crashOnce(wrap func(s signer.Signer, crash func()) signer.Signer) (controllers.Options, <-chan struct{}) {
	crashed := make(chan struct{})
	var once sync.Once
	opts := testOptions()
	opts.NewSigner = func(cfg signer.Config) (signer.Signer, error) {
		s, err := signer.New(cfg)
		if err != nil {
			return nil, err
		}
		return wrap(s, func() { once.Do(func() { close(crashed) }) }), nil
	}
	return opts, crashed
}
