// Package e2e_test drives the issuer binary through cert-manager's real
// controllers: Certificates, Ingresses, approval, renewal, restarts.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

var f *framework.Framework

// Products the simulator sells in these tests.
const (
	freeProduct  = "digicert-free-1-free"
	multiProduct = "globalsign-dv-w-advanced"
)

func TestMain(m *testing.M) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	var err error
	f, err = framework.Start(ctx, framework.Options{
		Sim: aliyunsim.Config{
			Zones:      []string{"example.com", "example.org"},
			Packages:   map[string]aliyunsim.Package{freeProduct: {Quota: 200}, multiProduct: {Quota: 50, MaxNames: 5}},
			Validation: aliyunsim.ValidationAuto,
			// Purchased CAS 2018-07-13 instances for orderAPI DVOrder: each
			// run of TestDVOrderKeyAdoption uses one (-count=5 uses five).
			DVInstances: 8,
			// The name server of the Alidns zones (propagation checks).
			DNSListen: "127.0.0.1:0",
		},
		// cert-manager retries a failed request after an hour by default.
		CertManager: framework.CertManagerOptions{MinimumBackoff: 5 * time.Second},
		// The issuer binary runs with exactly the permissions the Helm chart
		// grants, opted in where these scenarios need it (issuers in any
		// namespace, DV key adoption): every scenario proves the RBAC.
		ChartRBAC: []string{"rbac.secretsClusterWide=true", "rbac.keyAdoption.enabled=true"},
	})
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e: starting the system:", err)
		os.Exit(1)
	}
	code := m.Run()
	// After every scenario, however many ran and in whatever order.
	if err := stable.check(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: re-issue check:", err)
		code = 1
	}
	if code != 0 && f.Issuer != nil {
		out := f.Issuer.Output()
		if len(out) > 20000 {
			out = out[len(out)-20000:]
		}
		fmt.Fprintf(os.Stderr, "--- issuer output (tail) ---\n%s\n", out)
	}
	if err := f.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		if code == 0 {
			code = 1
		}
	}
	os.Exit(code)
}

func testCtx(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// namespaces numbers the namespaces tests make.
var namespaces atomic.Int64

// namespace makes a fresh namespace for one test, named after it with a
// number of its own, so a test can run again (-count) on the same cluster.
func namespace(t *testing.T, ctx context.Context) string {
	t.Helper()
	name := strings.ToLower(strings.NewReplacer("/", "-", "_", "-").Replace(t.Name()))
	if len(name) > 50 {
		name = name[:50]
	}
	name = fmt.Sprintf("%s-%d", name, namespaces.Add(1))
	if err := f.EnsureNamespace(ctx, name); err != nil {
		t.Fatal(err)
	}
	return name
}

// credentials creates the AccessKey Secret an issuer reads.
func credentials(t *testing.T, ctx context.Context, ns string) string {
	t.Helper()
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "aliyun-credentials", Namespace: ns},
		StringData: map[string]string{
			"access-key-id":     framework.SimAccessKeyID,
			"access-key-secret": framework.SimAccessKeySecret,
		},
	}
	if err := f.Client.Create(ctx, sec); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	return sec.Name
}

func issuerSpec(secret, product string) v1alpha1.IssuerSpec {
	return v1alpha1.IssuerSpec{
		Endpoint: f.SimURL,
		Auth: v1alpha1.Auth{AccessKeySecretRef: &v1alpha1.AccessKeySecretRef{
			Name: secret, AccessKeyIDKey: "access-key-id", AccessKeySecretKey: "access-key-secret",
		}},
		OrderAPI:     v1alpha1.OrderAPICSR,
		ProductCode:  product,
		Contact:      v1alpha1.Contact{Username: "Ops", Email: "ops@example.com", Phone: "13800000000"},
		PollInterval: &metav1.Duration{Duration: time.Second},
	}
}

// clusterIssuer creates an AliyunCASClusterIssuer (Secret in the cluster
// resource namespace) and waits for it to be Ready.
func clusterIssuer(t *testing.T, ctx context.Context, name, product string) cmmeta.IssuerReference {
	t.Helper()
	secret := credentials(t, ctx, framework.ClusterResourceNamespace)
	iss := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: issuerSpec(secret, product)}
	if err := f.Client.Create(ctx, iss); err != nil && !strings.Contains(err.Error(), "already exists") {
		t.Fatal(err)
	}
	waitIssuerReady(t, ctx, iss)
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AliyunCASClusterIssuer", Name: name}
}

// namespacedIssuer creates an AliyunCASIssuer in ns and waits for Ready.
func namespacedIssuer(t *testing.T, ctx context.Context, ns, name, product string) cmmeta.IssuerReference {
	t.Helper()
	secret := credentials(t, ctx, ns)
	iss := &v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: issuerSpec(secret, product)}
	if err := f.Client.Create(ctx, iss); err != nil {
		t.Fatal(err)
	}
	waitIssuerReady(t, ctx, iss)
	return cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: "AliyunCASIssuer", Name: name}
}

func waitIssuerReady(t *testing.T, ctx context.Context, iss v1alpha1.GenericIssuer) {
	t.Helper()
	if err := f.WaitIssuerReady(ctx, iss); err != nil {
		t.Fatal(err)
	}
}

// certificate creates a Certificate for names (the first is the CN).
func certificate(t *testing.T, ctx context.Context, ns, name string, ref cmmeta.IssuerReference, names ...string) *cmapi.Certificate {
	t.Helper()
	c := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: cmapi.CertificateSpec{
			SecretName: name + "-tls",
			CommonName: names[0],
			DNSNames:   names,
			IssuerRef:  ref,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
		},
	}
	if err := f.Client.Create(ctx, c); err != nil {
		t.Fatal(err)
	}
	return c
}

// issued waits for a Certificate to be Ready and checks its Secret.
func issued(t *testing.T, ctx context.Context, ns, name string) (*cmapi.Certificate, *framework.TLSSecret) {
	t.Helper()
	cert, sec, err := f.WaitCertificateReady(ctx, ns, name)
	if err != nil {
		t.Fatal(err)
	}
	tls, err := framework.VerifyTLSSecret(sec, f.Sim.RootPEM())
	if err != nil {
		t.Fatalf("Secret %s/%s: %v", ns, sec.Name, err)
	}
	want := map[string]bool{}
	for _, n := range cert.Spec.DNSNames {
		want[n] = true
	}
	for _, n := range tls.Leaf.DNSNames {
		if !want[n] {
			t.Errorf("certificate has name %q not requested (%v)", n, cert.Spec.DNSNames)
		}
		delete(want, n)
	}
	if len(want) > 0 {
		t.Errorf("certificate lacks names %v", want)
	}
	stable.add(cert)
	return cert, tls
}

// orderLog tells the simulator's orders placed after it was made from the
// older ones: every run of a test (-count) shares the one simulator.
type orderLog struct{ before map[string]bool }

func ordersFromNow() orderLog {
	before := map[string]bool{}
	for _, o := range f.Sim.State().Orders {
		before[o.API+"/"+o.ID] = true
	}
	return orderLog{before: before}
}

// placed lists the new orders covering domain, oldest first.
func (l orderLog) placed(domain string) []aliyunsim.OrderState {
	var out []aliyunsim.OrderState
	for _, o := range f.Sim.State().Orders {
		if !l.before[o.API+"/"+o.ID] && slices.Contains(o.Domains, domain) {
			out = append(out, o)
		}
	}
	return out
}

// count is how many new orders cover domain.
func (l orderLog) count(domain string) int { return len(l.placed(domain)) }
