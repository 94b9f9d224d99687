package bench

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"path/filepath"
	"slices"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

const (
	product      = "digicert-free-1-free"
	credsSecret  = "bench-aliyun-credentials"
	caSecret     = "bench-ca"
	caIssuerName = "bench-ca"
	zone         = "example.com"
	// createWorkers is how many Certificates are created in parallel: a
	// batch of 200 reaches the API server within about a second.
	createWorkers = 16
)

// env is the running system plus the bench's instruments.
type env struct {
	f *framework.Framework
	// kubeconfig reaches the API server through the recorder; baseArgs
	// are the issuer's flags in every scenario.
	kubeconfig string
	baseArgs   []string
	// issuerArgs are the running issuer's scenario flags.
	issuerArgs []string
	client     client.Client
	api        *apiRecorder
	simLog     *simCallLog
	tracker    *tracker
	// stopTracker ends the tracker's watches (before the API server stops,
	// which otherwise waits for them).
	stopTracker context.CancelFunc
	log         func(format string, args ...any)
}

// startEnv starts the control plane, cert-manager, the simulator and the
// issuer process (reaching the API server through the write recorder).
func startEnv(ctx context.Context, issuerArgs []string, logf func(string, ...any)) (e *env, err error) {
	e = &env{simLog: &simCallLog{}, log: logf, baseArgs: issuerArgs}
	defer func() {
		if err != nil {
			e.stop()
			e = nil
		}
	}()
	e.f, err = framework.Start(ctx, framework.Options{
		Sim: aliyunsim.Config{
			Zones:      []string{zone},
			Packages:   map[string]aliyunsim.Package{product: {Quota: 100000}},
			Validation: aliyunsim.ValidationAuto,
			Logf:       e.simLog.logf,
		},
		NoIssuer: true,
	})
	if err != nil {
		return e, err
	}
	cfg := rest.CopyConfig(e.f.Env.Config)
	cfg.QPS, cfg.Burst = -1, 0 // the bench's own requests are not rate limited
	if e.client, err = client.New(cfg, client.Options{Scheme: e.f.Env.Scheme}); err != nil {
		return e, err
	}
	if e.api, err = startAPIRecorder(e.f.Env.Config); err != nil {
		return e, err
	}
	e.kubeconfig = filepath.Join(e.f.WorkDir, "issuer-recorded.kubeconfig")
	if err := e.api.writeKubeconfig(e.kubeconfig); err != nil {
		return e, err
	}
	if err := e.startIssuer(ctx, nil); err != nil {
		return e, err
	}
	tctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	e.stopTracker = cancel
	if e.tracker, err = startTracker(tctx, cfg, e.f.Env.Scheme); err != nil {
		return e, err
	}
	if err := e.setupCAIssuer(ctx); err != nil {
		return e, fmt.Errorf("CA issuer: %w", err)
	}
	return e, e.create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: credsSecret, Namespace: framework.ClusterResourceNamespace},
		StringData: map[string]string{"access-key-id": framework.SimAccessKeyID, "access-key-secret": framework.SimAccessKeySecret},
	})
}

// startIssuer (re)starts the issuer process with the base flags plus args,
// unless it already runs with exactly those.
func (e *env) startIssuer(ctx context.Context, args []string) error {
	if e.f.Issuer != nil && !e.f.Issuer.Exited() && slices.Equal(args, e.issuerArgs) {
		return nil
	}
	if e.f.Issuer != nil {
		if err := e.f.Issuer.Stop(15 * time.Second); err != nil {
			return err
		}
	}
	// The last --kubeconfig wins: the issuer talks through the recorder.
	all := append([]string{"--kubeconfig=" + e.kubeconfig}, e.baseArgs...)
	if err := e.f.StartIssuer(ctx, append(all, args...)...); err != nil {
		return err
	}
	e.issuerArgs = slices.Clone(args)
	return nil
}

func (e *env) stop() {
	if e.f != nil && e.f.Issuer != nil {
		if err := e.f.Issuer.Stop(15 * time.Second); err != nil {
			e.log("stopping the issuer: %v", err)
		}
	}
	if e.api != nil {
		_ = e.api.Close()
	}
	if e.stopTracker != nil {
		e.stopTracker()
	}
	if e.f != nil {
		if err := e.f.Stop(); err != nil {
			e.log("stopping: %v", err)
		}
	}
}

// issuerOutputTail is the end of the issuer's log, for failures.
func (e *env) issuerOutputTail(n int) string {
	if e.f == nil || e.f.Issuer == nil {
		return ""
	}
	out := e.f.Issuer.Output()
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return out
}

func (e *env) create(ctx context.Context, obj client.Object) error {
	if err := e.client.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating %T %s: %w", obj, obj.GetName(), err)
	}
	return nil
}

// setupCAIssuer creates cert-manager's in-tree CA ClusterIssuer, backed by a
// freshly made self-signed CA in a Secret, and waits for it to be Ready.
func (e *env) setupCAIssuer(ctx context.Context) error {
	crt, key, err := selfSignedCA()
	if err != nil {
		return err
	}
	if err := e.create(ctx, &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: caSecret, Namespace: framework.ClusterResourceNamespace},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{corev1.TLSCertKey: crt, corev1.TLSPrivateKeyKey: key},
	}); err != nil {
		return err
	}
	iss := &cmapi.ClusterIssuer{
		ObjectMeta: metav1.ObjectMeta{Name: caIssuerName},
		Spec:       cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: caSecret}}},
	}
	if err := e.create(ctx, iss); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err = framework.Poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := e.client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
			return false, err.Error(), nil
		}
		for _, c := range iss.Status.Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				return c.Status == cmmeta.ConditionTrue, fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message), nil
			}
		}
		return false, "no Ready condition yet", nil
	})
	if err != nil {
		return fmt.Errorf("waiting for the CA ClusterIssuer to be Ready: %w", err)
	}
	return nil
}

func selfSignedCA() (crtPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "bench CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(10 * 365 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageCRLSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, nil, err
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}), nil
}

// caRef is the issuerRef of the in-tree CA issuer.
func caRef() cmmeta.IssuerReference {
	return cmmeta.IssuerReference{Group: "cert-manager.io", Kind: "ClusterIssuer", Name: caIssuerName}
}

// aliyunIssuer creates an AliyunCASClusterIssuer pointing at the simulator
// and waits until it is Ready. pollInterval 0 keeps the API default.
func (e *env) aliyunIssuer(ctx context.Context, name string, pollInterval time.Duration) (cmmeta.IssuerReference, error) {
	spec := v1alpha1.IssuerSpec{
		Endpoint: e.f.SimURL,
		Auth: v1alpha1.Auth{AccessKeySecretRef: &v1alpha1.AccessKeySecretRef{
			Name: credsSecret, AccessKeyIDKey: "access-key-id", AccessKeySecretKey: "access-key-secret",
		}},
		OrderAPI:    v1alpha1.OrderAPICSR,
		ProductCode: product,
		Contact:     v1alpha1.Contact{Username: "Ops", Email: "ops@example.com", Phone: "13800000000"},
	}
	if pollInterval > 0 {
		spec.PollInterval = &metav1.Duration{Duration: pollInterval}
	}
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: spec}
	if err := e.create(ctx, iss); err != nil {
		return cmmeta.IssuerReference{}, err
	}
	wctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	err := e.f.WaitIssuerReady(wctx, iss)
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.ClusterIssuerKind, Name: name}, err
}

// issueBatch creates n Certificates at once in a fresh namespace ns, issued
// by ref, and waits until all are Ready (or bound passes).
func (e *env) issueBatch(ctx context.Context, ns string, n int, ref cmmeta.IssuerReference, bound time.Duration) (BatchResult, error) {
	if err := e.f.EnsureNamespace(ctx, ns); err != nil {
		return BatchResult{}, err
	}
	b := e.tracker.newBatch(ns, n)
	defer e.tracker.forget(b)
	jobs := make(chan int)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range min(createWorkers, n) {
		wg.Go(func() {
			for i := range jobs {
				name := fmt.Sprintf("c%04d", i)
				host := fmt.Sprintf("%s.%s.%s", name, ns, zone)
				c := &cmapi.Certificate{
					ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
					Spec: cmapi.CertificateSpec{
						SecretName: name + "-tls",
						CommonName: host,
						DNSNames:   []string{host},
						IssuerRef:  ref,
						PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
					},
				}
				e.tracker.created(b, name, time.Now())
				if err := e.client.Create(ctx, c); err != nil {
					errs <- fmt.Errorf("creating Certificate %s/%s: %w", ns, name, err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return BatchResult{}, err
	}
	return e.tracker.wait(ctx, e.client, b, bound)
}

// cleanup deletes a namespace's Certificates, CertificateRequests and
// Secrets (the control plane runs no garbage collector), then waits for the
// issuer to go quiet.
func (e *env) cleanup(ctx context.Context, ns string) error {
	for _, obj := range []client.Object{&cmapi.Certificate{}, &cmapi.CertificateRequest{}, &corev1.Secret{}} {
		if err := e.client.DeleteAllOf(ctx, obj, client.InNamespace(ns)); err != nil {
			return fmt.Errorf("cleaning up %s: %w", ns, err)
		}
	}
	return e.quiesce(ctx)
}

// snapshot is the counters a measurement takes the difference of.
type snapshot struct {
	at      time.Time
	metrics IssuerMetrics
	sim     aliyunsim.State
	writes  map[string]int
	proc    ProcSample
	simMark int
}

func (e *env) snapshot(ctx context.Context) (snapshot, error) {
	s := snapshot{at: time.Now(), sim: e.f.Sim.State(), writes: e.api.Writes(), simMark: e.simLog.mark()}
	var err error
	if s.metrics, err = scrapeIssuer(ctx, e.f.MetricsAddr); err != nil {
		return s, err
	}
	if s.proc, err = readProc(e.f.Issuer.Pid()); err != nil {
		return s, fmt.Errorf("reading the issuer's /proc: %w", err)
	}
	return s, nil
}

// quiesce waits until the issuer has made no API-server request and no
// Alibaba Cloud call for two seconds (Events, finalizer removals and the
// like come after the Certificate is Ready), at most 30s.
func (e *env) quiesce(ctx context.Context) error {
	deadline := time.Now().Add(30 * time.Second)
	last, err := e.activity(ctx)
	if err != nil {
		return err
	}
	stableSince := time.Now()
	for time.Since(stableSince) < 2*time.Second && time.Now().Before(deadline) {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
		cur, err := e.activity(ctx)
		if err != nil {
			return err
		}
		if cur != last {
			last, stableSince = cur, time.Now()
		}
	}
	return nil
}

// activity is a number that grows with every request the issuer makes.
func (e *env) activity(ctx context.Context) (float64, error) {
	m, err := scrapeIssuer(ctx, e.f.MetricsAddr)
	if err != nil {
		return 0, err
	}
	var n float64
	for _, v := range m.Requests {
		n += v
	}
	return n + float64(e.simLog.mark()), nil
}
