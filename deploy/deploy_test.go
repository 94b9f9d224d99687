// Package deploy_test checks the deployment manifests: the Helm chart in
// deploy/charts/aliyun-cas-issuer (rendered with bin/helm) and the kustomize
// base and example overlay in deploy/kustomize (built with bin/kubectl).
// They must grant exactly the permissions of the allow-lists below, run the
// controller hardened, and be accepted by a real API server.
package deploy_test

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

var env *testenv.Env

func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }

var updateCRDs = flag.Bool("update-crds", false, "copy deploy/crds into the chart's files/crds")

// The controller's ServiceAccount in the default renders, and cert-manager's.
var (
	controllerSA  = "system:serviceaccount:" + installNS + ":" + releaseName
	certManagerSA = "system:serviceaccount:cert-manager:cert-manager"
)

// controllerGrants is every permission the controller needs, scoped to
// leaseNS (its leader election Lease) and secretNS (issuer Secrets).
func controllerGrants(sa, leaseNS string, secretNS ...string) []string {
	r := []string{"get", "list", "watch"}
	l := [][]string{
		perms(sa, "*", "cert-manager.io", "certificaterequests", []string{"get", "list", "watch", "patch"}),
		perms(sa, "*", "cert-manager.io", "certificaterequests/status", []string{"patch"}),
		perms(sa, "*", "aliyun-cas-issuer.io", "aliyuncasissuers", r),
		perms(sa, "*", "aliyun-cas-issuer.io", "aliyuncasclusterissuers", r),
		perms(sa, "*", "aliyun-cas-issuer.io", "aliyuncasissuers/status", []string{"patch"}),
		perms(sa, "*", "aliyun-cas-issuer.io", "aliyuncasclusterissuers/status", []string{"patch"}),
		perms(sa, "*", "aliyun-cas-issuer.io", "aliyuncascertificatesyncs", []string{"get", "list", "watch", "patch"}),
		perms(sa, "*", "aliyun-cas-issuer.io", "aliyuncascertificatesyncs/status", []string{"patch"}),
		perms(sa, "*", "events.k8s.io", "events", []string{"create", "patch"}),
		perms(sa, leaseNS, "coordination.k8s.io", "leases", []string{"create"}),
		perms(sa, leaseNS, "coordination.k8s.io", "leases", []string{"get", "update"}, leaseName),
		perms(sa, leaseNS, "", "events", []string{"create", "patch"}),
	}
	for _, ns := range secretNS {
		l = append(l, perms(sa, ns, "", "secrets", r))
	}
	l = append(l, csrGrants(sa))
	return sortedUnique(l...)
}

// Signer names of the issuers' Kubernetes CertificateSigningRequests.
var csrSignerNames = []string{"aliyuncasclusterissuers.aliyun-cas-issuer.io/*", "aliyuncasissuers.aliyun-cas-issuer.io/*"}

// csrGrants let the controller sign Kubernetes CertificateSigningRequests
// (on by default): read and patch CSRs, write their status, sign for these
// issuers' signer names only, and ask whether a requester may reference a
// namespaced issuer.
func csrGrants(sa string) []string {
	return sortedUnique(
		perms(sa, "*", "certificates.k8s.io", "certificatesigningrequests", []string{"get", "list", "watch", "patch"}),
		perms(sa, "*", "certificates.k8s.io", "certificatesigningrequests/status", []string{"update", "patch"}),
		perms(sa, "*", "certificates.k8s.io", "signers", []string{"sign"}, csrSignerNames...),
		perms(sa, "*", "authorization.k8s.io", "subjectaccessreviews", []string{"create"}),
	)
}

// csrApproverGrants is what the opt-in CSR approver ClusterRole gives.
func csrApproverGrants(subject string) []string {
	return sortedUnique(
		perms(subject, "*", "certificates.k8s.io", "certificatesigningrequests", []string{"get", "list", "watch"}),
		perms(subject, "*", "certificates.k8s.io", "certificatesigningrequests/approval", []string{"update"}),
		perms(subject, "*", "certificates.k8s.io", "signers", []string{"approve"}, csrSignerNames...),
	)
}

// stateKeyGrants let the controller create Secrets in its own namespace and
// read the order state key there, and nothing more.
func stateKeyGrants(sa, ns string) []string {
	return sortedUnique(
		perms(sa, ns, "", "secrets", []string{"create"}),
		perms(sa, ns, "", "secrets", []string{"get"}, controllers.StateKeySecretName),
	)
}

// approverGrants lets cert-manager's approver approve requests for these
// issuers, and nothing else.
func approverGrants(sa string) []string {
	return perms(sa, "*", "cert-manager.io", "signers", []string{"approve"},
		"issuers.aliyun-cas-issuer.io/*", "clusterissuers.aliyun-cas-issuer.io/*")
}

// defaultAllowList is exactly what the chart's defaults and the kustomize
// base grant. Adding a permission to the manifests fails the tests until it
// is added here, on purpose.
func defaultAllowList() []string {
	return sortedUnique(controllerGrants(controllerSA, installNS, certManager), stateKeyGrants(controllerSA, installNS), approverGrants(certManagerSA))
}

// optInValues turn on every opt-in permission of the chart.
const optInValues = `
rbac:
  issuerNamespaces: [team-a, team-b]
  secretsClusterWide: true
  keyAdoption:
    enabled: true
    namespaces: [team-c]
  certificateSync:
    namespaces: [team-d]
    clusterWide: true
    serviceTargets: true
certificateSigningRequests:
  approver:
    enabled: true
    subjects: [{kind: Group, name: pki-approvers, apiGroup: rbac.authorization.k8s.io}]
`

// optInAllowList is what optInValues grant: the defaults, Secrets read in
// team-a, team-b and (cluster-wide opt-in) everywhere, key adoption's
// Secret writes in team-c, and the certificate syncs' Secret get and
// Service get and patch in team-d and (cluster-wide opt-in) everywhere.
func optInAllowList() []string {
	return sortedUnique(
		defaultAllowList(),
		perms(controllerSA, "team-a", "", "secrets", []string{"get", "list", "watch"}),
		perms(controllerSA, "team-b", "", "secrets", []string{"get", "list", "watch"}),
		perms(controllerSA, "*", "", "secrets", []string{"get", "list", "watch"}),
		perms(controllerSA, "team-c", "", "secrets", []string{"get", "update", "patch"}),
		perms(controllerSA, "team-c", "cert-manager.io", "certificates", []string{"get"}),
		csrApproverGrants("Group:pki-approvers"),
		perms(controllerSA, "team-d", "", "secrets", []string{"get"}),
		perms(controllerSA, "team-d", "", "services", []string{"get", "patch"}),
		perms(controllerSA, "*", "", "services", []string{"get", "patch"}),
	)
}

// fullValues sets nearly every value away from its default.
const fullValues = `
replicaCount: 3
image:
  repository: registry.example.com/mirror/aliyun-cas-issuer
  tag: v9.9.9
  digest: sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef
  pullPolicy: Always
imagePullSecrets: [regcred, {name: mirror-pull}]
crds:
  enabled: false
clusterResourceNamespace: platform-secrets
leaderElection:
  namespace: issuer-leases
maxConcurrentReconciles: 10
healthCheckInterval: 5m
extraArgs: ["--example-extra-flag=1"]
extraEnv:
  - name: HTTPS_PROXY
    value: http://proxy.example.com:3128
serviceAccount:
  name: cas
  annotations: {example.com/owner: pki}
  labels: {team: pki}
rrsa:
  enabled: true
  roleName: cas-issuer
rbac:
  issuerNamespaces: [team-a, team-b]
  keyAdoption:
    enabled: true
    namespaces: [team-a]
approver:
  serviceAccount:
    name: cm
    namespace: security
metrics:
  port: 9090
  service:
    annotations: {example.com/scrape: "true"}
  serviceMonitor:
    enabled: true
    interval: 1m
    scrapeTimeout: 20s
    labels: {release: prometheus}
  dashboard:
    enabled: true
    labels: {grafana_dashboard: "1", team: pki}
    annotations: {grafana_folder: PKI}
healthProbe:
  port: 9091
livenessProbe:
  initialDelaySeconds: 30
  periodSeconds: 30
  timeoutSeconds: 3
  failureThreshold: 5
podDisruptionBudget:
  maxUnavailable: 1
resources:
  requests: {cpu: 50m, memory: 100Mi}
  limits: {cpu: 1, memory: 1Gi}
podSecurityContext:
  runAsNonRoot: true
  runAsUser: 1000
  runAsGroup: 1000
  fsGroup: 1000
  seccompProfile: {type: RuntimeDefault}
securityContext:
  runAsNonRoot: true
  runAsUser: 1000
  privileged: false
  allowPrivilegeEscalation: false
  readOnlyRootFilesystem: true
  capabilities: {drop: [ALL]}
podAnnotations: {example.com/note: hello}
podLabels: {tier: security}
nodeSelector: {kubernetes.io/os: linux}
tolerations:
  - {key: dedicated, operator: Equal, value: infra, effect: NoSchedule}
affinity:
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels: {app.kubernetes.io/name: aliyun-cas-issuer}
topologySpreadConstraints:
  - maxSkew: 1
    topologyKey: topology.kubernetes.io/zone
    whenUnsatisfiable: ScheduleAnyway
    labelSelector:
      matchLabels: {app.kubernetes.io/name: aliyun-cas-issuer}
priorityClassName: issuer-critical
`

// fullNS is the release namespace of the fullValues render.
const fullNS = "pki"

func TestChartDefaults(t *testing.T) {
	objs := mustHelm(t, releaseName, installNS, "")
	want := []string{
		"ClusterRole//aliyun-cas-issuer-approver",
		"ClusterRole//aliyun-cas-issuer-controller",
		"ClusterRoleBinding//aliyun-cas-issuer-approver",
		"ClusterRoleBinding//aliyun-cas-issuer-controller",
		"CustomResourceDefinition//aliyuncascertificatesyncs.aliyun-cas-issuer.io",
		"CustomResourceDefinition//aliyuncasclusterissuers.aliyun-cas-issuer.io",
		"CustomResourceDefinition//aliyuncasissuers.aliyun-cas-issuer.io",
		"Deployment/aliyun-cas-issuer-system/aliyun-cas-issuer",
		"PodDisruptionBudget/aliyun-cas-issuer-system/aliyun-cas-issuer",
		"Role/aliyun-cas-issuer-system/aliyun-cas-issuer-leader-election",
		"Role/aliyun-cas-issuer-system/aliyun-cas-issuer-state-key",
		"Role/cert-manager/aliyun-cas-issuer-secrets-reader",
		"RoleBinding/aliyun-cas-issuer-system/aliyun-cas-issuer-leader-election",
		"RoleBinding/aliyun-cas-issuer-system/aliyun-cas-issuer-state-key",
		"RoleBinding/cert-manager/aliyun-cas-issuer-secrets-reader",
		"Service/aliyun-cas-issuer-system/aliyun-cas-issuer-metrics",
		"ServiceAccount/aliyun-cas-issuer-system/aliyun-cas-issuer",
	}
	if got := objs.names(); !slices.Equal(got, want) {
		t.Errorf("objects:\n got %q\nwant %q", got, want)
	}

	d := objs.deployment(t)
	if *d.Spec.Replicas != 2 {
		t.Errorf("replicas = %d, want 2", *d.Spec.Replicas)
	}
	c := controller(t, d)
	chart := chartMeta(t)
	if want := "ghcr.io/aliyun-cas-issuer/aliyun-cas-issuer:" + chart.AppVersion; c.Image != want {
		t.Errorf("image = %q, want %q", c.Image, want)
	}
	if c.ImagePullPolicy != corev1.PullIfNotPresent {
		t.Errorf("pullPolicy = %q", c.ImagePullPolicy)
	}
	wantArgs := []string{
		"--cluster-resource-namespace=cert-manager",
		"--leader-elect",
		"--leader-election-namespace=" + installNS,
		"--metrics-bind-address=:8080",
		"--health-probe-bind-address=:8081",
	}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args:\n got %q\nwant %q", c.Args, wantArgs)
	}
	if v, _ := envValue(c, secretEnvVar); v != certManager {
		t.Errorf("%s = %q, want %q", secretEnvVar, v, certManager)
	}
	if !memoryLimitEnv(c) {
		t.Errorf("GOMEMLIMIT is not the container's memory limit: %+v", c.Env)
	}

	var sa corev1.ServiceAccount
	convert(t, objs.get(t, "ServiceAccount", releaseName), &sa)
	if len(sa.Annotations) != 0 {
		t.Errorf("ServiceAccount annotations = %v, want none by default", sa.Annotations)
	}
	if _, ok := d.Spec.Template.Labels["pod-identity.alibabacloud.com/injection"]; ok {
		t.Error("pods ask for RRSA injection although rrsa.enabled is false")
	}

	var pdb policyv1.PodDisruptionBudget
	convert(t, objs.get(t, "PodDisruptionBudget", releaseName), &pdb)
	if pdb.Spec.MinAvailable == nil || *pdb.Spec.MinAvailable != intstr.FromInt32(1) || pdb.Spec.MaxUnavailable != nil {
		t.Errorf("PDB = %+v, want minAvailable 1", pdb.Spec)
	}
	if !reflect.DeepEqual(pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels) {
		t.Errorf("PDB selector %v != Deployment selector %v", pdb.Spec.Selector.MatchLabels, d.Spec.Selector.MatchLabels)
	}
	checkMetricsService(t, objs, d, 8080)

	for _, crd := range objs.ofKind("CustomResourceDefinition") {
		if crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
			t.Errorf("CRD %s lacks helm.sh/resource-policy: keep", crd.GetName())
		}
	}
}

// checkMetricsService checks that the metrics Service selects the pods and
// targets the container's metrics port.
func checkMetricsService(t *testing.T, objs objects, d *appsv1.Deployment, port int32) {
	t.Helper()
	svcs := objs.ofKind("Service")
	if len(svcs) != 1 {
		t.Fatalf("want 1 Service, got %d", len(svcs))
	}
	var svc corev1.Service
	convert(t, svcs[0], &svc)
	for k, v := range svc.Spec.Selector {
		if d.Spec.Template.Labels[k] != v {
			t.Errorf("Service selector %s=%s does not match the pods' labels", k, v)
		}
	}
	c := controller(t, d)
	var cport *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http-metrics" {
			cport = &c.Ports[i]
		}
	}
	if cport == nil || cport.ContainerPort != port {
		t.Fatalf("container metrics port = %+v, want %d", cport, port)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].Port != port || svc.Spec.Ports[0].TargetPort.String() != "http-metrics" {
		t.Errorf("Service ports = %+v", svc.Spec.Ports)
	}
	if !hasArg(c.Args, "--metrics-bind-address=:"+itoa(port)) {
		t.Errorf("args %q do not bind metrics to :%d", c.Args, port)
	}
}

func TestChartNonDefaults(t *testing.T) {
	objs := mustHelm(t, releaseName, fullNS, fullValues)
	if n := len(objs.ofKind("CustomResourceDefinition")); n != 0 {
		t.Errorf("crds.enabled false: %d CRDs rendered", n)
	}
	d := objs.deployment(t)
	c := controller(t, d)
	if *d.Spec.Replicas != 3 {
		t.Errorf("replicas = %d", *d.Spec.Replicas)
	}
	if want := "registry.example.com/mirror/aliyun-cas-issuer@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"; c.Image != want {
		t.Errorf("image = %q, want %q (the digest wins over the tag)", c.Image, want)
	}
	if c.ImagePullPolicy != corev1.PullAlways {
		t.Errorf("pullPolicy = %q", c.ImagePullPolicy)
	}
	if got := d.Spec.Template.Spec.ImagePullSecrets; !reflect.DeepEqual(got, []corev1.LocalObjectReference{{Name: "regcred"}, {Name: "mirror-pull"}}) {
		t.Errorf("imagePullSecrets = %v", got)
	}
	wantArgs := []string{
		"--cluster-resource-namespace=platform-secrets",
		"--leader-elect",
		"--leader-election-namespace=issuer-leases",
		"--metrics-bind-address=:9090",
		"--health-probe-bind-address=:9091",
		"--max-concurrent-reconciles=10",
		"--health-check-interval=5m",
		"--example-extra-flag=1",
	}
	if !slices.Equal(c.Args, wantArgs) {
		t.Errorf("args:\n got %q\nwant %q", c.Args, wantArgs)
	}
	if v, _ := envValue(c, secretEnvVar); v != "platform-secrets,team-a,team-b" {
		t.Errorf("%s = %q", secretEnvVar, v)
	}
	if v, _ := envValue(c, "HTTPS_PROXY"); v != "http://proxy.example.com:3128" {
		t.Errorf("extraEnv HTTPS_PROXY = %q", v)
	}
	if c.LivenessProbe.InitialDelaySeconds != 30 || c.LivenessProbe.FailureThreshold != 5 || c.LivenessProbe.HTTPGet.Path != "/healthz" {
		t.Errorf("livenessProbe = %+v", c.LivenessProbe)
	}
	if got := c.Resources.Limits.Memory().String(); got != "1Gi" {
		t.Errorf("memory limit = %s", got)
	}
	ps := d.Spec.Template.Spec
	if ps.ServiceAccountName != "cas" || ps.PriorityClassName != "issuer-critical" ||
		ps.NodeSelector["kubernetes.io/os"] != "linux" || len(ps.Tolerations) != 1 ||
		ps.Affinity == nil || ps.Affinity.PodAntiAffinity == nil || len(ps.TopologySpreadConstraints) != 1 {
		t.Errorf("pod spec scheduling fields not rendered: %+v", ps)
	}
	if *ps.SecurityContext.RunAsUser != 1000 || *ps.SecurityContext.FSGroup != 1000 || *c.SecurityContext.RunAsUser != 1000 {
		t.Error("security context user/group values not rendered")
	}
	tl := d.Spec.Template.Labels
	if tl["pod-identity.alibabacloud.com/injection"] != "on" || tl["tier"] != "security" {
		t.Errorf("pod labels = %v", tl)
	}
	if d.Spec.Template.Annotations["example.com/note"] != "hello" {
		t.Errorf("pod annotations = %v", d.Spec.Template.Annotations)
	}

	var sa corev1.ServiceAccount
	convert(t, objs.get(t, "ServiceAccount", "cas"), &sa)
	if sa.Annotations["pod-identity.alibabacloud.com/role-name"] != "cas-issuer" || sa.Annotations["example.com/owner"] != "pki" || sa.Labels["team"] != "pki" {
		t.Errorf("ServiceAccount metadata = %v %v", sa.Annotations, sa.Labels)
	}

	var pdb policyv1.PodDisruptionBudget
	convert(t, objs.get(t, "PodDisruptionBudget", releaseName), &pdb)
	if pdb.Spec.MinAvailable != nil || pdb.Spec.MaxUnavailable == nil || *pdb.Spec.MaxUnavailable != intstr.FromInt32(1) {
		t.Errorf("PDB = %+v, want maxUnavailable 1 only", pdb.Spec)
	}
	checkMetricsService(t, objs, d, 9090)

	sm := objs.get(t, "ServiceMonitor", releaseName)
	eps, _, _ := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if len(eps) != 1 || eps[0].(map[string]any)["port"] != "http-metrics" || eps[0].(map[string]any)["interval"] != "1m" {
		t.Errorf("ServiceMonitor endpoints = %v", eps)
	}
	sel, _, _ := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	svc := objs.ofKind("Service")[0]
	for k, v := range sel {
		if svc.GetLabels()[k] != v {
			t.Errorf("ServiceMonitor selector %s=%s does not match the Service's labels", k, v)
		}
	}
	if sm.GetLabels()["release"] != "prometheus" {
		t.Errorf("ServiceMonitor labels = %v", sm.GetLabels())
	}

	sa1 := "system:serviceaccount:" + fullNS + ":cas"
	want := sortedUnique(
		controllerGrants(sa1, "issuer-leases", "platform-secrets", "team-a", "team-b"),
		stateKeyGrants(sa1, fullNS),
		perms(sa1, "team-a", "", "secrets", []string{"get", "update", "patch"}),
		perms(sa1, "team-a", "cert-manager.io", "certificates", []string{"get"}),
		approverGrants("system:serviceaccount:security:cm"),
	)
	checkGrants(t, "non-default chart", objs.grants(t), want)
}

func TestChartVariants(t *testing.T) {
	t.Run("single replica without leader election", func(t *testing.T) {
		objs := mustHelm(t, releaseName, installNS, "replicaCount: 1\nleaderElection: {enabled: false}\n")
		c := controller(t, objs.deployment(t))
		if len(argsWithPrefix(c.Args, "--leader-elect")) != 0 {
			t.Errorf("args %q elect a leader", c.Args)
		}
		if n := len(objs.ofKind("PodDisruptionBudget")); n != 0 {
			t.Errorf("%d PodDisruptionBudgets for 1 replica", n)
		}
		want := sortedUnique(controllerGrants(controllerSA, installNS, certManager), approverGrants(certManagerSA))
		want = slices.DeleteFunc(want, func(s string) bool { return strings.Contains(s, " "+installNS+" ") })
		want = sortedUnique(want, stateKeyGrants(controllerSA, installNS))
		checkGrants(t, "no leader election", objs.grants(t), want)
	})
	t.Run("metrics off", func(t *testing.T) {
		objs := mustHelm(t, releaseName, installNS, "metrics: {enabled: false}\n")
		c := controller(t, objs.deployment(t))
		if !hasArg(c.Args, "--metrics-bind-address=0") {
			t.Errorf("args %q serve metrics", c.Args)
		}
		if n := len(objs.ofKind("Service")); n != 0 {
			t.Errorf("%d Services with metrics off", n)
		}
	})
	t.Run("opt-in permissions", func(t *testing.T) {
		objs := mustHelm(t, releaseName, installNS, optInValues)
		checkGrants(t, "opt-in chart", objs.grants(t), optInAllowList())
		c := controller(t, objs.deployment(t))
		if v, _ := envValue(c, secretEnvVar); v != "*" {
			t.Errorf("%s = %q, want * with rbac.secretsClusterWide", secretEnvVar, v)
		}
	})
	t.Run("CertificateSigningRequests off", func(t *testing.T) {
		objs := mustHelm(t, releaseName, installNS, "certificateSigningRequests: {enabled: false, approver: {enabled: true, subjects: [{kind: User, name: ops}]}}\n")
		c := controller(t, objs.deployment(t))
		if !hasArg(c.Args, "--enable-certificate-signing-requests=false") {
			t.Errorf("args %q do not turn the CSR controller off", c.Args)
		}
		csr := csrGrants(controllerSA)
		want := slices.DeleteFunc(defaultAllowList(), func(g string) bool { return slices.Contains(csr, g) })
		checkGrants(t, "CSRs off", objs.grants(t), want)
	})
	t.Run("approver off, CRDs not kept", func(t *testing.T) {
		objs := mustHelm(t, releaseName, installNS, "approver: {enabled: false}\ncrds: {keep: false}\n")
		for _, g := range objs.grants(t) {
			if strings.Contains(g, "/signers approve") {
				t.Errorf("approver off still grants %s", g)
			}
		}
		for _, crd := range objs.ofKind("CustomResourceDefinition") {
			if _, ok := crd.GetAnnotations()["helm.sh/resource-policy"]; ok {
				t.Errorf("CRD %s kept although crds.keep is false", crd.GetName())
			}
		}
	})
}

// TestChartRejectsBadValues: values.schema.json (and the templates' own
// checks) make helm fail on values that cannot work.
func TestChartRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name, values string
		// want are substrings of helm's error.
		want []string
	}{
		{"replicas as a word", "replicaCount: two\n", []string{"schema", "replicaCount"}},
		{"CSR approver for nobody", "certificateSigningRequests: {approver: {enabled: true}}\n", []string{"schema", "subjects"}},
		{"CSR approver subject of no kind", "certificateSigningRequests: {approver: {enabled: true, subjects: [{kind: Robot, name: r}]}}\n", []string{"schema", "kind"}},
		{"unknown top-level key", "replicas: 2\n", []string{"schema", "replicas"}},
		{"unknown nested key", "image: {repository: x, pullPolicy: Always, tags: v1}\n", []string{"schema", "tags"}},
		{"bad pullPolicy", "image: {pullPolicy: Sometimes}\n", []string{"schema", "pullPolicy"}},
		{"bad digest", "image: {digest: latest}\n", []string{"schema", "digest"}},
		{"privileged container", "securityContext: {privileged: true}\n", []string{"schema", "privileged"}},
		{"writable root filesystem", "securityContext: {readOnlyRootFilesystem: false}\n", []string{"schema", "readOnlyRootFilesystem"}},
		{"privilege escalation", "securityContext: {allowPrivilegeEscalation: true}\n", []string{"schema", "allowPrivilegeEscalation"}},
		{"added capability", "securityContext: {capabilities: {drop: [ALL], add: [NET_ADMIN]}}\n", []string{"schema", "add"}},
		{"capabilities kept", "securityContext: {capabilities: {drop: [NET_RAW]}}\n", []string{"schema", "drop"}},
		{"root allowed", "podSecurityContext: {runAsNonRoot: false}\n", []string{"schema", "runAsNonRoot"}},
		{"unconfined seccomp", "podSecurityContext: {seccompProfile: {type: Unconfined}}\n", []string{"schema", "seccompProfile"}},
		{"rrsa without role", "rrsa: {enabled: true}\n", []string{"schema", "roleName"}},
		{"bad namespace", "rbac: {issuerNamespaces: [Team_A]}\n", []string{"schema", "issuerNamespaces"}},
		{"key adoption without namespaces", "rbac: {keyAdoption: {enabled: true}}\n", []string{"schema", "keyAdoption"}},
		{"key adoption, empty namespaces", "rbac: {keyAdoption: {enabled: true, namespaces: []}}\n", []string{"schema", "keyAdoption"}},
		{"key adoption, clusterWide false", "rbac: {keyAdoption: {enabled: true, clusterWide: false}}\n", []string{"schema", "keyAdoption"}},
		{"repeated namespace", "rbac: {issuerNamespaces: [team-a, team-a]}\n", []string{"schema", "issuerNamespaces"}},
		{"bad metrics port", "metrics: {port: 0}\n", []string{"schema", "port"}},
		{"bad duration", "healthCheckInterval: ten minutes\n", []string{"schema", "healthCheckInterval"}},
		{"extra arg not a flag", "extraArgs: [verbose]\n", []string{"schema", "extraArgs"}},
		{"env without name", "extraEnv: [{value: x}]\n", []string{"schema", "name"}},
		{"bad service type", "metrics: {service: {type: ExternalName}}\n", []string{"schema", "type"}},
		{"replicas without leader election", "leaderElection: {enabled: false}\n", []string{"leaderElection.enabled"}},
		{"both PDB bounds", "podDisruptionBudget: {minAvailable: 1, maxUnavailable: 1}\n", []string{"not both"}},
		{"ServiceMonitor without metrics", "metrics: {enabled: false, serviceMonitor: {enabled: true}}\n", []string{"metrics.enabled"}},
		{"dashboard without metrics", "metrics: {enabled: false, dashboard: {enabled: true}}\n", []string{"metrics.enabled"}},
		{"no ServiceAccount name", "serviceAccount: {create: false}\n", []string{"serviceAccount.name"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := helmTemplate(t, releaseName, installNS, tc.values)
			if err == nil {
				t.Fatalf("helm template accepted %q", tc.values)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not mention %q:\n%v", w, err)
				}
			}
		})
	}
}

// TestRBACAllowList: the chart's defaults and the kustomize base grant
// exactly the allow-list; the example overlay adds only Secrets read in
// team-a, and Service get and patch there for certificate sync targets.
func TestRBACAllowList(t *testing.T) {
	checkGrants(t, "chart defaults", mustHelm(t, releaseName, installNS, "").grants(t), defaultAllowList())
	checkGrants(t, "kustomize base", kustomize(t, baseRel).grants(t), defaultAllowList())
	checkGrants(t, "kustomize overlay", kustomize(t, overlayRel).grants(t), sortedUnique(
		defaultAllowList(),
		perms(controllerSA, "team-a", "", "secrets", []string{"get", "list", "watch"}),
		perms(controllerSA, "team-a", "", "services", []string{"get", "patch"}),
	))
	// Nothing in any render lets the controller read Secrets cluster-wide,
	// write them, or touch RBAC, pods or nodes unless opted in.
	for _, g := range defaultAllowList() {
		if strings.Contains(g, "/secrets") && strings.Contains(g, " * ") {
			t.Errorf("default grants read Secrets cluster-wide: %s", g)
		}
	}
}

func checkGrants(t *testing.T, what string, got, want []string) {
	t.Helper()
	if extra, missing := diff(got, want); len(extra) > 0 || len(missing) > 0 {
		t.Errorf("%s: permissions differ from the allow-list\n  granted but not allowed:\n    %s\n  allowed but not granted:\n    %s",
			what, strings.Join(extra, "\n    "), strings.Join(missing, "\n    "))
	}
}

// TestKustomizeMatchesChart: the kustomize base is the chart's default
// render in namespace aliyun-cas-issuer-system, object for object.
func TestKustomizeMatchesChart(t *testing.T) {
	chart := mustHelm(t, releaseName, installNS, "")
	base := kustomize(t, baseRel)

	chartNames := append(chart.names(), "Namespace//"+installNS)
	slices.Sort(chartNames)
	if got := base.names(); !slices.Equal(got, chartNames) {
		t.Errorf("kustomize objects:\n got %q\nwant %q (the chart's, plus the Namespace)", got, chartNames)
	}

	// Same RBAC rules, object by object (not only the same flattened grants).
	for _, kind := range []string{"ClusterRole", "Role"} {
		for _, u := range chart.ofKind(kind) {
			var a, b rbacv1.ClusterRole // Role's fields are a subset
			convert(t, u, &a)
			convert(t, base.get(t, kind, u.GetName()), &b)
			if !reflect.DeepEqual(a.Rules, b.Rules) {
				t.Errorf("%s %s rules differ:\nchart     %+v\nkustomize %+v", kind, u.GetName(), a.Rules, b.Rules)
			}
		}
	}

	// The same pod: the chart's pod template minus Helm's labels.
	cd, kd := chart.deployment(t), base.deployment(t)
	if *cd.Spec.Replicas != *kd.Spec.Replicas {
		t.Errorf("replicas: chart %d, kustomize %d", *cd.Spec.Replicas, *kd.Spec.Replicas)
	}
	if !reflect.DeepEqual(cd.Spec.Selector, kd.Spec.Selector) {
		t.Errorf("selectors differ: chart %v, kustomize %v", cd.Spec.Selector, kd.Spec.Selector)
	}
	if !reflect.DeepEqual(cd.Spec.Template.Spec, kd.Spec.Template.Spec) {
		a, _ := yaml.Marshal(cd.Spec.Template.Spec)
		b, _ := yaml.Marshal(kd.Spec.Template.Spec)
		t.Errorf("pod specs differ:\n--- chart\n%s\n--- kustomize\n%s", a, b)
	}
	for _, kind := range []string{"Service", "PodDisruptionBudget"} {
		a, b := chart.ofKind(kind)[0], base.ofKind(kind)[0]
		if !reflect.DeepEqual(a.Object["spec"], b.Object["spec"]) {
			t.Errorf("%s specs differ:\nchart     %v\nkustomize %v", kind, a.Object["spec"], b.Object["spec"])
		}
	}
	// The CRDs are deploy/crds in both.
	for _, u := range base.ofKind("CustomResourceDefinition") {
		a := chart.get(t, "CustomResourceDefinition", u.GetName())
		if !reflect.DeepEqual(a.Object["spec"], u.Object["spec"]) {
			t.Errorf("CRD %s: the chart's spec differs from deploy/crds", u.GetName())
		}
	}
}

// TestChartCRDsAreDeployCRDs: the chart ships deploy/crds byte for byte
// (files/crds is a copy: Helm reads no file outside the chart), and
// deploy/crds/kustomization.yaml lists every CRD. Run with -update-crds
// after `make generate` to refresh the copy.
func TestChartCRDsAreDeployCRDs(t *testing.T) {
	r := root(t)
	src := filepath.Join(r, "deploy", "crds")
	dst := filepath.Join(r, chartRel, "files", "crds")
	srcFiles, _ := filepath.Glob(filepath.Join(src, "*_*.yaml"))
	if len(srcFiles) == 0 {
		t.Fatalf("no CRDs in %s", src)
	}
	if *updateCRDs {
		old, _ := filepath.Glob(filepath.Join(dst, "*.yaml"))
		for _, f := range old {
			if err := os.Remove(f); err != nil {
				t.Fatal(err)
			}
		}
		for _, f := range srcFiles {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(filepath.Join(dst, filepath.Base(f)), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	dstFiles, _ := filepath.Glob(filepath.Join(dst, "*.yaml"))
	base := func(l []string) []string {
		var out []string
		for _, f := range l {
			out = append(out, filepath.Base(f))
		}
		return out
	}
	if !slices.Equal(base(srcFiles), base(dstFiles)) {
		t.Fatalf("chart CRDs %q != deploy/crds %q: run go test ./deploy -run TestChartCRDsAreDeployCRDs -update-crds", base(dstFiles), base(srcFiles))
	}
	for _, f := range srcFiles {
		a, _ := os.ReadFile(f)
		b, _ := os.ReadFile(filepath.Join(dst, filepath.Base(f)))
		if !bytes.Equal(a, b) {
			t.Errorf("%s differs from deploy/crds: run go test ./deploy -run TestChartCRDsAreDeployCRDs -update-crds", filepath.Join(chartRel, "files", "crds", filepath.Base(f)))
		}
	}

	var k struct {
		Resources []string `json:"resources"`
	}
	b, err := os.ReadFile(filepath.Join(src, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &k); err != nil {
		t.Fatal(err)
	}
	slices.Sort(k.Resources)
	if !slices.Equal(k.Resources, base(srcFiles)) {
		t.Errorf("deploy/crds/kustomization.yaml lists %q, the CRDs are %q", k.Resources, base(srcFiles))
	}
}

// TestHardenedPods: every render runs the controller as non-root, with a
// read-only root filesystem, no privilege escalation, no capabilities, the
// RuntimeDefault seccomp profile, no host namespaces or paths, and probes
// on /healthz and /readyz.
func TestHardenedPods(t *testing.T) {
	renders := map[string]objects{
		"chart defaults":    mustHelm(t, releaseName, installNS, ""),
		"chart non-default": mustHelm(t, releaseName, fullNS, fullValues),
		"kustomize base":    kustomize(t, baseRel),
		"kustomize overlay": kustomize(t, overlayRel),
	}
	for name, objs := range renders {
		t.Run(name, func(t *testing.T) { checkHardened(t, objs.deployment(t)) })
	}
}

func checkHardened(t *testing.T, d *appsv1.Deployment) {
	t.Helper()
	ps := d.Spec.Template.Spec
	psc := ps.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot {
		t.Error("pod securityContext.runAsNonRoot is not true")
	}
	if psc == nil || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Error("pod seccompProfile is not RuntimeDefault")
	}
	if ps.HostNetwork || ps.HostPID || ps.HostIPC {
		t.Error("pod uses a host namespace")
	}
	for _, v := range ps.Volumes {
		if v.HostPath != nil {
			t.Errorf("volume %s is a hostPath", v.Name)
		}
	}
	if len(ps.InitContainers) != 0 || len(ps.EphemeralContainers) != 0 {
		t.Error("unexpected init or ephemeral containers")
	}
	for _, c := range ps.Containers {
		sc := c.SecurityContext
		if sc == nil {
			t.Fatalf("container %s has no securityContext", c.Name)
		}
		if sc.Privileged == nil || *sc.Privileged {
			t.Errorf("container %s: privileged is not explicitly false", c.Name)
		}
		if sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation {
			t.Errorf("container %s: allowPrivilegeEscalation is not false", c.Name)
		}
		if sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			t.Errorf("container %s: readOnlyRootFilesystem is not true", c.Name)
		}
		if sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot {
			t.Errorf("container %s: runAsNonRoot is not true", c.Name)
		}
		if sc.RunAsUser != nil && *sc.RunAsUser == 0 || psc != nil && psc.RunAsUser != nil && *psc.RunAsUser == 0 {
			t.Errorf("container %s runs as uid 0", c.Name)
		}
		if sc.Capabilities == nil || !slices.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 {
			t.Errorf("container %s: capabilities = %+v, want drop [ALL] and nothing added", c.Name, sc.Capabilities)
		}
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"liveness", c.LivenessProbe, "/healthz"}, {"readiness", c.ReadinessProbe, "/readyz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("container %s has no HTTP %s probe", c.Name, p.name)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s probe path = %q, want %q", p.name, p.probe.HTTPGet.Path, p.path)
			}
			// The probe's named port is the container's health port, the
			// one --health-probe-bind-address serves.
			var port int32
			for _, cp := range c.Ports {
				if cp.Name == p.probe.HTTPGet.Port.String() {
					port = cp.ContainerPort
				}
			}
			if port == 0 || !hasArg(c.Args, "--health-probe-bind-address=:"+itoa(port)) {
				t.Errorf("%s probe port %s is not the health probe address in %q", p.name, p.probe.HTTPGet.Port.String(), c.Args)
			}
		}
		if c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
			t.Errorf("container %s lacks a memory request or limit", c.Name)
		}
	}
}

// chartMeta is the chart's Chart.yaml.
func chartMeta(t testing.TB) (c struct {
	Version    string `json:"version"`
	AppVersion string `json:"appVersion"`
}) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root(t), chartRel, "Chart.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func itoa(i int32) string { return strconv.Itoa(int(i)) }

// TestHelmLint: helm's own checks of the chart, warnings included.
func TestHelmLint(t *testing.T) {
	for _, values := range []string{"", fullValues, optInValues} {
		dir, err := os.MkdirTemp("", "helm-lint")
		if err != nil {
			t.Fatal(err)
		}
		defer func() { _ = os.RemoveAll(dir) }()
		vf := filepath.Join(dir, "values.yaml")
		if err := os.WriteFile(vf, []byte(values), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(tool(t, "helm"), "lint", "--strict", "--namespace", installNS, "--values", vf, filepath.Join(root(t), chartRel))
		cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+dir, "HELM_CONFIG_HOME="+dir, "HELM_DATA_HOME="+dir)
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("helm lint --strict: %v\n%s", err, out)
		}
	}
}

// TestKeyAdoptionScope: key adoption's Secret writes are bound in the
// listed namespaces, or cluster-wide only with clusterWide set.
func TestKeyAdoptionScope(t *testing.T) {
	name := releaseName + "-key-adoption"
	for _, tc := range []struct {
		values        string
		clusterWide   bool
		roleBindingNS string
	}{
		{"rbac: {keyAdoption: {enabled: true, namespaces: [team-c]}}\n", false, "team-c"},
		{"rbac: {keyAdoption: {enabled: true, clusterWide: true}}\n", true, ""},
	} {
		out, err := helmTemplate(t, releaseName, installNS, tc.values)
		if err != nil {
			t.Fatalf("%q: %v", tc.values, err)
		}
		crb := false
		for _, o := range out.ofKind("ClusterRoleBinding") {
			crb = crb || o.GetName() == name
		}
		if crb != tc.clusterWide {
			t.Errorf("%q: cluster-wide binding %v, want %v", tc.values, crb, tc.clusterWide)
		}
		rb := ""
		for _, o := range out.ofKind("RoleBinding") {
			if o.GetName() == name {
				rb = o.GetNamespace()
			}
		}
		if rb != tc.roleBindingNS {
			t.Errorf("%q: RoleBinding in %q, want %q", tc.values, rb, tc.roleBindingNS)
		}
	}
}
