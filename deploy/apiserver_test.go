package deploy_test

// Tests against the real API server of internal/testenv: every rendered
// object is accepted (server-side apply, dry run), Pod Security admission
// finds nothing to warn about under the restricted profile, the RBAC grants
// what SubjectAccessReviews expect, and the controllers run as the chart's
// ServiceAccount without a single forbidden call.

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"github.com/go-logr/logr"
	"github.com/go-logr/logr/funcr"
	authorizationv1 "k8s.io/api/authorization/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
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
)

const fieldOwner = client.FieldOwner("deploy-test")

// warnings collects the API server's warning headers.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// warningClient is an admin client that records warnings.
func warningClient(t *testing.T) (client.Client, *warnings) {
	t.Helper()
	w := &warnings{}
	cfg := rest.CopyConfig(env.Config)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c, w
}

// ensureNamespace creates a namespace under the restricted Pod Security
// profile (enforced, and warned about for workloads).
func ensureNamespace(t *testing.T, name string) {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: map[string]string{
		"pod-security.kubernetes.io/enforce": "restricted",
		"pod-security.kubernetes.io/warn":    "restricted",
	}}}
	if err := env.Client.Create(context.Background(), ns); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// standIn is a schemaless stand-in for the CRD of another project (not
// available here), so that the API server accepts the kind; the fields are
// checked by the tests of each manifest, not by the API server.
type standIn struct {
	group, kind, plural string
	scope               apiextensionsv1.ResourceScope
}

// standInCRDs are the foreign kinds the manifests use: the Prometheus
// Operator's ServiceMonitor (chart) and ACK's AlbConfig (docs/ack.md).
var standInCRDs = map[string]standIn{
	"ServiceMonitor": {"monitoring.coreos.com", "ServiceMonitor", "servicemonitors", apiextensionsv1.NamespaceScoped},
	"AlbConfig":      {"alibabacloud.com", "AlbConfig", "albconfigs", apiextensionsv1.ClusterScoped},
}

var standInOnce sync.Map // kind -> *sync.Once

func ensureStandInCRD(t *testing.T, s standIn) {
	t.Helper()
	once, _ := standInOnce.LoadOrStore(s.kind, &sync.Once{})
	once.(*sync.Once).Do(func() {
		preserve := true
		crd := &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: s.plural + "." + s.group},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: s.group,
				Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: s.kind, ListKind: s.kind + "List", Plural: s.plural, Singular: strings.ToLower(s.kind)},
				Scope: s.scope,
				Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
					Name: "v1", Served: true, Storage: true,
					Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
						Type: "object", XPreserveUnknownFields: &preserve,
					}},
				}},
			},
		}
		ctx := context.Background()
		if err := env.Client.Create(ctx, crd); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		waitFor(t, 30*time.Second, s.kind+" CRD established", func() (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(crd), crd); err != nil {
				return false, err
			}
			for _, c := range crd.Status.Conditions {
				if c.Type == apiextensionsv1.Established && c.Status == apiextensionsv1.ConditionTrue {
					return true, nil
				}
			}
			return false, nil
		})
	})
}

// abort, returned by a waitFor condition, ends the wait with a failure.
type abort struct{ error }

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		ok, err := cond()
		if ok {
			return
		}
		if a, isAbort := err.(abort); isAbort {
			t.Fatalf("waiting for %s: %v", what, a.error)
		}
		lastErr = err
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("timed out after %s waiting for %s (last error: %v)", timeout, what, lastErr)
}

// apply server-side applies objects; dryRun leaves nothing behind.
func apply(t *testing.T, c client.Client, objs objects, dryRun bool) {
	t.Helper()
	ctx := context.Background()
	for _, u := range objs {
		if u.GetNamespace() != "" {
			ensureNamespace(t, u.GetNamespace())
		}
		if s, ok := standInCRDs[u.GetKind()]; ok {
			ensureStandInCRD(t, s)
		}
	}
	for _, u := range objs {
		opts := []client.ApplyOption{fieldOwner, client.ForceOwnership}
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		if err := c.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), opts...); err != nil {
			t.Errorf("applying %s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
		}
	}
}

// TestServerSideDryRun: a real API server accepts every object of every
// render, and Pod Security admission (restricted profile) warns about none.
func TestServerSideDryRun(t *testing.T) {
	c, w := warningClient(t)
	renders := []struct {
		name string
		objs objects
	}{
		{"chart defaults", mustHelm(t, releaseName, installNS, "")},
		{"chart non-default", mustHelm(t, releaseName, fullNS, fullValues)},
		{"chart opt-ins", mustHelm(t, releaseName, installNS, optInValues)},
		{"kustomize base", kustomize(t, baseRel)},
		{"kustomize overlay", kustomize(t, overlayRel)},
	}
	for _, r := range renders {
		t.Run(r.name, func(t *testing.T) {
			w.take()
			apply(t, c, r.objs, true)
			for _, msg := range w.take() {
				t.Errorf("API server warning: %s", msg)
			}
		})
	}

	// The warning check above can see: a privileged variant is warned about.
	t.Run("control: privileged pod is warned about", func(t *testing.T) {
		d := renders[0].objs.ofKind("Deployment")[0].DeepCopy()
		containers, _, _ := unstructured.NestedSlice(d.Object, "spec", "template", "spec", "containers")
		ct := containers[0].(map[string]any)
		sc := ct["securityContext"].(map[string]any)
		sc["privileged"] = true
		sc["allowPrivilegeEscalation"] = true
		if err := unstructured.SetNestedSlice(d.Object, containers, "spec", "template", "spec", "containers"); err != nil {
			t.Fatal(err)
		}
		w.take()
		apply(t, c, objects{d}, true)
		got := strings.Join(w.take(), "\n")
		if !strings.Contains(got, "restricted") {
			t.Errorf("no Pod Security warning for a privileged container (warnings: %q)", got)
		}
	})
}

// sarRelease is the release applied for real by TestRBACInAPIServer.
const (
	sarRelease = "sar"
	sarNS      = "sar-system"
	sarTeamNS  = "sar-team"
)

var sarOnce sync.Once

// installSARRelease applies the chart's RBAC and ServiceAccount for real,
// with AliyunCASIssuer Secrets readable in sar-team.
func installSARRelease(t *testing.T) objects {
	t.Helper()
	objs := mustHelm(t, sarRelease, sarNS, "crds: {enabled: false}\nrbac: {issuerNamespaces: ["+sarTeamNS+"]}\n")
	sarOnce.Do(func() {
		var rbacObjs objects
		for _, u := range objs {
			switch u.GetKind() {
			case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
				rbacObjs = append(rbacObjs, u)
			}
		}
		apply(t, env.Client, rbacObjs, false)
	})
	return objs
}

// TestRBACInAPIServer asks the API server what the rendered RBAC lets the
// controller's ServiceAccount and cert-manager's do.
func TestRBACInAPIServer(t *testing.T) {
	objs := installSARRelease(t)
	sa := sarRelease + "-" + releaseName
	user := "system:serviceaccount:" + sarNS + ":" + sa
	groups := []string{"system:serviceaccounts", "system:serviceaccounts:" + sarNS, "system:authenticated"}
	if got := objs.ofKind("ServiceAccount")[0].GetName(); got != sa {
		t.Fatalf("ServiceAccount %q, want %q", got, sa)
	}

	type check struct {
		allowed                                     bool
		verb, group, resource, sub, namespace, name string
	}
	ok := func(verb, group, resource, sub, ns, name string) check {
		return check{true, verb, group, resource, sub, ns, name}
	}
	no := func(verb, group, resource, sub, ns, name string) check {
		return check{false, verb, group, resource, sub, ns, name}
	}
	const cm, iss, csrGroup = "cert-manager.io", "aliyun-cas-issuer.io", "certificates.k8s.io"
	controllerChecks := []check{
		ok("list", cm, "certificaterequests", "", "", ""),
		ok("watch", cm, "certificaterequests", "", "", ""),
		ok("get", cm, "certificaterequests", "", "anywhere", "cr"),
		ok("patch", cm, "certificaterequests", "", "anywhere", "cr"),
		ok("patch", cm, "certificaterequests", "status", "anywhere", "cr"),
		no("update", cm, "certificaterequests", "", "anywhere", "cr"),
		no("update", cm, "certificaterequests", "status", "anywhere", "cr"),
		no("create", cm, "certificaterequests", "", "anywhere", ""),
		no("delete", cm, "certificaterequests", "", "anywhere", "cr"),
		no("get", cm, "certificates", "", "anywhere", "c"),
		// Kubernetes CertificateSigningRequests: these issuers' signer
		// names only (the CertificateSigning admission plugin asks for
		// the exact name, then for "<domain>/*", which the rules grant).
		ok("list", csrGroup, "certificatesigningrequests", "", "", ""),
		ok("patch", csrGroup, "certificatesigningrequests", "", "", "csr"),
		ok("update", csrGroup, "certificatesigningrequests", "status", "", "csr"),
		no("update", csrGroup, "certificatesigningrequests", "approval", "", "csr"),
		no("delete", csrGroup, "certificatesigningrequests", "", "", "csr"),
		ok("sign", csrGroup, "signers", "", "", "aliyuncasclusterissuers.aliyun-cas-issuer.io/*"),
		ok("sign", csrGroup, "signers", "", "", "aliyuncasissuers.aliyun-cas-issuer.io/*"),
		no("sign", csrGroup, "signers", "", "", "kubernetes.io/*"),
		no("sign", csrGroup, "signers", "", "", "kubernetes.io/kube-apiserver-client"),
		no("approve", csrGroup, "signers", "", "", "aliyuncasissuers.aliyun-cas-issuer.io/*"),
		ok("create", "authorization.k8s.io", "subjectaccessreviews", "", "", ""),
		no("approve", cm, "signers", "", "", "issuers.aliyun-cas-issuer.io/*"),
		ok("list", iss, "aliyuncasissuers", "", "", ""),
		ok("watch", iss, "aliyuncasclusterissuers", "", "", ""),
		ok("patch", iss, "aliyuncasissuers", "status", "anywhere", "i"),
		ok("patch", iss, "aliyuncasclusterissuers", "status", "", "ci"),
		no("patch", iss, "aliyuncasissuers", "", "anywhere", "i"),
		no("delete", iss, "aliyuncasclusterissuers", "", "", "ci"),
		ok("watch", iss, "aliyuncascertificatesyncs", "", "", ""),
		ok("patch", iss, "aliyuncascertificatesyncs", "", "anywhere", "s"),
		ok("patch", iss, "aliyuncascertificatesyncs", "status", "anywhere", "s"),
		no("update", iss, "aliyuncascertificatesyncs", "", "anywhere", "s"),
		// Service targets of syncs are an opt-in.
		no("patch", "", "services", "", sarTeamNS, "svc"),
		ok("create", "events.k8s.io", "events", "", "anywhere", ""),
		ok("patch", "events.k8s.io", "events", "", "anywhere", "e"),
		no("delete", "events.k8s.io", "events", "", "anywhere", "e"),
		// Secrets: read in the cluster resource namespace and the listed
		// issuer namespace only; never written.
		ok("get", "", "secrets", "", certManager, "creds"),
		ok("list", "", "secrets", "", certManager, ""),
		ok("watch", "", "secrets", "", sarTeamNS, ""),
		no("get", "", "secrets", "", "anywhere", "creds"),
		no("list", "", "secrets", "", "", ""),
		no("update", "", "secrets", "", certManager, "creds"),
		no("patch", "", "secrets", "", sarTeamNS, "creds"),
		no("create", "", "secrets", "", certManager, ""),
		// The order state key: created and read in its own namespace only.
		ok("create", "", "secrets", "", sarNS, ""),
		ok("get", "", "secrets", "", sarNS, controllers.StateKeySecretName),
		no("get", "", "secrets", "", sarNS, "someone-elses"),
		no("list", "", "secrets", "", sarNS, ""),
		no("update", "", "secrets", "", sarNS, controllers.StateKeySecretName),
		// Leader election: its own Lease, in its own namespace.
		ok("create", "coordination.k8s.io", "leases", "", sarNS, ""),
		ok("get", "coordination.k8s.io", "leases", "", sarNS, leaseName),
		ok("update", "coordination.k8s.io", "leases", "", sarNS, leaseName),
		no("update", "coordination.k8s.io", "leases", "", sarNS, "someone-else"),
		no("create", "coordination.k8s.io", "leases", "", "anywhere", ""),
		ok("create", "", "events", "", sarNS, ""),
		no("create", "", "events", "", "anywhere", ""),
		no("get", "", "pods", "", sarNS, "p"),
		no("create", "rbac.authorization.k8s.io", "rolebindings", "", sarNS, ""),
	}
	run := func(user string, groups []string, checks []check) {
		for _, c := range checks {
			sar := &authorizationv1.SubjectAccessReview{Spec: authorizationv1.SubjectAccessReviewSpec{
				User: user, Groups: groups,
				ResourceAttributes: &authorizationv1.ResourceAttributes{
					Verb: c.verb, Group: c.group, Resource: c.resource, Subresource: c.sub, Namespace: c.namespace, Name: c.name,
				},
			}}
			if err := env.Client.Create(context.Background(), sar); err != nil {
				t.Fatal(err)
			}
			if sar.Status.Allowed != c.allowed {
				t.Errorf("%s: %s %s/%s/%s in %q name %q: allowed=%v, want %v (%s)", user, c.verb, c.group, c.resource, c.sub, c.namespace, c.name, sar.Status.Allowed, c.allowed, sar.Status.Reason)
			}
		}
	}
	run(user, groups, controllerChecks)

	cmUser := "system:serviceaccount:cert-manager:cert-manager"
	run(cmUser, []string{"system:serviceaccounts", "system:serviceaccounts:cert-manager", "system:authenticated"}, []check{
		ok("approve", cm, "signers", "", "", "issuers.aliyun-cas-issuer.io/*"),
		ok("approve", cm, "signers", "", "", "clusterissuers.aliyun-cas-issuer.io/*"),
		no("approve", cm, "signers", "", "", "issuers.example.com/*"),
		no("get", "", "secrets", "", certManager, "creds"),
	})
}

// logLines is a logger that keeps every line.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logger() logr.Logger {
	return funcr.New(func(prefix, args string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		l.lines = append(l.lines, prefix+" "+args)
	}, funcr.Options{Verbosity: 1})
}

func (l *logLines) matching(sub string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, s := range l.lines {
		if strings.Contains(strings.ToLower(s), sub) {
			out = append(out, s)
		}
	}
	return out
}

// startManager runs the controllers as the chart's ServiceAccount
// (impersonated) until the returned stop is called.
func startManager(t *testing.T, sa string, cacheOpts cache.Options, leaderElect bool, logs *logLines) (stop func()) {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: "system:serviceaccount:" + sarNS + ":" + sa}
	log := logs.logger()
	ctrl.SetLogger(log)
	klog.SetLogger(log)
	skip := true
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        env.Scheme,
		Logger:                        log,
		Cache:                         cacheOpts,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		LeaderElection:                leaderElect,
		LeaderElectionID:              leaseName,
		LeaderElectionNamespace:       sarNS,
		LeaderElectionReleaseOnCancel: true,
		Controller:                    config.Controller{SkipNameValidation: &skip},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := controllers.Setup(mgr, controllers.Options{ClusterResourceNamespace: certManager, AllowInsecureEndpoints: true /* the simulator serves http on loopback */}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	return func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("manager: %v", err)
			}
		case <-time.After(60 * time.Second):
			t.Error("manager did not stop within 60s")
		}
	}
}

// TestControllerRunsWithChartRBAC runs the real controllers as the chart's
// ServiceAccount, with the Secret cache the rendered Deployment asks for,
// against the local Alibaba Cloud simulator: leader election, issuer checks
// (a cluster issuer and a namespaced one), a certificate issued end to end,
// and Events, all without one forbidden call.
func TestControllerRunsWithChartRBAC(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the controllers for a while")
	}
	objs := installSARRelease(t)
	sa := sarRelease + "-" + releaseName
	secretNamespaces, _ := envValue(controller(t, objs.deployment(t)), secretEnvVar)
	if secretNamespaces != certManager+","+sarTeamNS {
		t.Fatalf("%s = %q", secretEnvVar, secretNamespaces)
	}
	ctx := context.Background()
	ensureNamespace(t, certManager)
	ensureNamespace(t, sarTeamNS)

	// Without the cache restriction the Secret watch is cluster-wide and
	// forbidden: the reason the restriction exists.
	t.Run("control: unrestricted Secret cache is forbidden", func(t *testing.T) {
		logs := &logLines{}
		stop := startManager(t, sa, cache.Options{}, false, logs)
		deadline := time.Now().Add(20 * time.Second)
		for time.Now().Before(deadline) && len(logs.matching("forbidden")) == 0 {
			time.Sleep(200 * time.Millisecond)
		}
		stop()
		if len(logs.matching("forbidden")) == 0 {
			t.Log("note: no forbidden call without the Secret cache restriction; the controllers may no longer watch Secrets through the cache")
		}
	})

	const keyID, keySecret = "test-deploy-key-id", "deploy-test-secret"
	// Instances for the default order API (Instance).
	sim, err := aliyunsim.New(aliyunsim.Config{AccessKeys: map[string]string{keyID: keySecret},
		V2: aliyunsim.V2Config{Instances: 4, RecordsDelay: 100 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	endpoint, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = sim.Close() }()

	secret := func(ns string) *corev1.Secret {
		return &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "sar-credentials", Namespace: ns},
			StringData: map[string]string{"access-key-id": keyID, "access-key-secret": keySecret},
		}
	}
	spec := v1alpha1.IssuerSpec{
		Endpoint:     endpoint,
		Auth:         v1alpha1.Auth{AccessKeySecretRef: &v1alpha1.AccessKeySecretRef{Name: "sar-credentials"}},
		Contact:      v1alpha1.Contact{Username: "Ops", Email: "ops@example.com", Phone: "13800000000"},
		PollInterval: &metav1.Duration{Duration: time.Second},
	}
	ci := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "sar-cluster-issuer"}, Spec: spec}
	ni := &v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Name: "sar-issuer", Namespace: sarTeamNS}, Spec: spec}
	for _, o := range []client.Object{secret(certManager), secret(sarTeamNS), ci, ni} {
		if err := env.Client.Create(ctx, o); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}
	cr := newRequest(t, sarTeamNS, ci.Name)
	// A Kubernetes CSR for the namespaced issuer: the reference check
	// (SubjectAccessReview), the order state on the CSR (patch), its
	// status and the API server's check that the controller may sign for
	// the signer name.
	newCSR(t, "sar-csr", v1alpha1.IssuerSignerDomain+"/"+sarTeamNS+"."+ni.Name)

	logs := &logLines{}
	stop := startManager(t, sa, controllers.CacheOptions(secretNamespaces, certManager), true, logs)
	defer func() {
		if t.Failed() {
			lines := logs.matching("")
			for _, l := range lines[max(0, len(lines)-100):] {
				t.Log(l)
			}
		}
	}()
	defer stop()
	// waitFor gives up at the first forbidden call.
	waitFor := func(t *testing.T, timeout time.Duration, what string, cond func() (bool, error)) {
		t.Helper()
		waitFor(t, timeout, what, func() (bool, error) {
			if f := logs.matching("forbidden"); len(f) > 0 {
				return false, abort{fmt.Errorf("forbidden calls with the chart's RBAC:\n%s", strings.Join(f, "\n"))}
			}
			return cond()
		})
	}

	waitFor(t, 60*time.Second, "the leader election Lease", func() (bool, error) {
		var l coordinationv1.Lease
		err := env.Client.Get(ctx, client.ObjectKey{Namespace: sarNS, Name: leaseName}, &l)
		return err == nil && l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "", err
	})
	// Both issuers are checked with their Secrets and turn Ready.
	for _, iss := range []v1alpha1.GenericIssuer{ci, ni} {
		waitFor(t, 60*time.Second, iss.GetName()+" Ready", func() (bool, error) {
			if err := env.Client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
				return false, err
			}
			for _, c := range iss.GetStatus().Conditions {
				if c.Type == v1alpha1.ConditionReady {
					return c.Status == metav1.ConditionTrue, fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
				}
			}
			return false, nil
		})
	}
	// The approved request is ordered, followed and issued: the request's
	// metadata and status are written as the ServiceAccount.
	waitFor(t, 60*time.Second, "the CertificateRequest issued", func() (bool, error) {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(cr), cr); err != nil {
			return false, err
		}
		for _, c := range cr.Status.Conditions {
			if c.Type == cmapi.CertificateRequestConditionReady {
				return c.Status == cmmeta.ConditionTrue && c.Reason == cmapi.CertificateRequestReasonIssued && len(cr.Status.Certificate) > 0,
					fmt.Errorf("Ready=%s %s: %s", c.Status, c.Reason, c.Message)
			}
		}
		return false, nil
	})
	waitFor(t, 60*time.Second, "the CertificateSigningRequest signed", func() (bool, error) { return csrSigned(ctx, "sar-csr") })
	// Events (events.k8s.io) about the cluster issuer.
	waitFor(t, 30*time.Second, "an Event about the cluster issuer", func() (bool, error) {
		var evs eventsv1.EventList
		if err := env.Client.List(ctx, &evs); err != nil {
			return false, err
		}
		return slices.ContainsFunc(evs.Items, func(e eventsv1.Event) bool { return e.Regarding.Name == ci.Name }), nil
	})
	if f := logs.matching("forbidden"); len(f) > 0 {
		t.Errorf("forbidden calls with the chart's RBAC:\n%s", strings.Join(f, "\n"))
	}
}

// newRequest creates an approved CertificateRequest for a cluster issuer.
func newRequest(t *testing.T, ns, issuer string) *cmapi.CertificateRequest {
	t.Helper()
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "sar-request", Namespace: ns},
		Spec: cmapi.CertificateRequestSpec{
			Request:   testcsr.PEM(t, testcsr.Spec{CommonName: "www.example.com", DNSNames: []string{"www.example.com"}}),
			IssuerRef: cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.ClusterIssuerKind, Name: issuer},
			Usages:    []cmapi.KeyUsage{cmapi.UsageDigitalSignature, cmapi.UsageServerAuth},
		},
	}
	ctx := context.Background()
	if err := env.Client.Create(ctx, cr); err != nil {
		t.Fatal(err)
	}
	cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
		Type: cmapi.CertificateRequestConditionApproved, Status: cmmeta.ConditionTrue,
		Reason: "deploy-test", Message: "approved by the test", LastTransitionTime: &metav1.Time{Time: time.Now()},
	})
	if err := env.Client.Status().Update(ctx, cr); err != nil {
		t.Fatal(err)
	}
	return cr
}
