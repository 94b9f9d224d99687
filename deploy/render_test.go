package deploy_test

// Rendering helpers: the Helm chart through bin/helm, the kustomize
// overlays through bin/kubectl, both parsed into unstructured objects.

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

const (
	chartRel     = "deploy/charts/aliyun-cas-issuer"
	baseRel      = "deploy/kustomize/base"
	overlayRel   = "deploy/kustomize/overlays/example"
	releaseName  = "aliyun-cas-issuer"
	installNS    = "aliyun-cas-issuer-system"
	leaseName    = "aliyun-cas-issuer.io"
	certManager  = "cert-manager"
	secretEnvVar = "ALIYUN_CAS_ISSUER_SECRET_NAMESPACES"
)

// root is the module root.
func root(t testing.TB) string {
	t.Helper()
	r, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// tool is a binary `make tools` builds into bin/.
func tool(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(root(t), "bin", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not found: run `make tools`", p)
	}
	return p
}

// objects is a rendered set of manifests.
type objects []*unstructured.Unstructured

// helmTemplate renders the chart as release name in namespace with the
// given values (YAML). It returns helm's error output on failure.
func helmTemplate(t testing.TB, name, namespace, values string) (objects, error) {
	t.Helper()
	// Not t.TempDir(): helm splits --values at commas, which subtest
	// names may hold.
	dir, err := os.MkdirTemp("", "helm-values")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	vf := filepath.Join(dir, "values.yaml")
	if err := os.WriteFile(vf, []byte(values), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(tool(t, "helm"), "template", name, filepath.Join(root(t), chartRel),
		"--namespace", namespace, "--values", vf)
	// Keep helm away from the user's configuration and caches.
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(dir, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(dir, "config"),
		"HELM_DATA_HOME="+filepath.Join(dir, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("helm template: %w: %s", err, stderr.String())
	}
	objs, err := parseManifests(stdout.Bytes())
	if err != nil {
		t.Fatalf("parsing helm output: %v\n%s", err, stdout.String())
	}
	return objs, nil
}

// mustHelm renders the chart and fails the test if helm fails.
func mustHelm(t testing.TB, name, namespace, values string) objects {
	t.Helper()
	objs, err := helmTemplate(t, name, namespace, values)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// kustomize builds a kustomization with bin/kubectl.
func kustomize(t testing.TB, rel string) objects {
	t.Helper()
	cmd := exec.Command(tool(t, "kubectl"), "kustomize", filepath.Join(root(t), rel))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubectl kustomize %s: %v: %s", rel, err, stderr.String())
	}
	objs, err := parseManifests(stdout.Bytes())
	if err != nil {
		t.Fatalf("parsing kustomize output: %v", err)
	}
	return objs
}

// parseManifests splits a multi-document YAML stream into objects.
func parseManifests(data []byte) (objects, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out objects
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, err
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// ofKind returns the objects of a kind.
func (o objects) ofKind(kind string) objects {
	var out objects
	for _, u := range o {
		if u.GetKind() == kind {
			out = append(out, u)
		}
	}
	return out
}

// get returns the one object of kind named name (in any namespace).
func (o objects) get(t testing.TB, kind, name string) *unstructured.Unstructured {
	t.Helper()
	for _, u := range o.ofKind(kind) {
		if u.GetName() == name {
			return u
		}
	}
	t.Fatalf("no %s %q among %s", kind, name, o.names())
	return nil
}

// names lists kind/namespace/name of every object, sorted.
func (o objects) names() []string {
	var out []string
	for _, u := range o {
		out = append(out, u.GetKind()+"/"+u.GetNamespace()+"/"+u.GetName())
	}
	sort.Strings(out)
	return out
}

// deployment is the one Deployment of a render.
func (o objects) deployment(t testing.TB) *appsv1.Deployment {
	t.Helper()
	ds := o.ofKind("Deployment")
	if len(ds) != 1 {
		t.Fatalf("want 1 Deployment, got %d", len(ds))
	}
	d := &appsv1.Deployment{}
	convert(t, ds[0], d)
	return d
}

// convert turns an unstructured object into a typed one, strictly: a field
// the Go type does not know is an error.
func convert(t testing.TB, u *unstructured.Unstructured, into any) {
	t.Helper()
	if err := runtime.DefaultUnstructuredConverter.FromUnstructuredWithValidation(u.Object, into, true); err != nil {
		t.Fatalf("%s %s/%s: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err)
	}
}

// controller is the one container of a Deployment.
func controller(t testing.TB, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("want 1 container, got %d", n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// envValue is the literal value of a container's environment variable.
func envValue(c corev1.Container, name string) (string, bool) {
	for _, e := range c.Env {
		if e.Name == name {
			return e.Value, true
		}
	}
	return "", false
}

// memoryLimitEnv reports whether the container's GOMEMLIMIT is its memory
// limit (the downward API gives it in bytes, as GOMEMLIMIT takes it).
func memoryLimitEnv(c corev1.Container) bool {
	for _, e := range c.Env {
		if e.Name == "GOMEMLIMIT" {
			f := e.ValueFrom
			return f != nil && f.ResourceFieldRef != nil && f.ResourceFieldRef.Resource == "limits.memory" &&
				(f.ResourceFieldRef.Divisor.IsZero() || f.ResourceFieldRef.Divisor.Value() == 1)
		}
	}
	return false
}

// grant is one permission a binding gives a subject: subject, scope ("*"
// for cluster-wide, else a namespace), API group, resource, verb and
// resource name (empty: any).
type grant struct {
	Subject, Scope, Group, Resource, Verb, Name string
}

func (g grant) String() string {
	group := g.Group
	if group == "" {
		group = "core"
	}
	s := fmt.Sprintf("%s %s %s/%s %s", g.Subject, g.Scope, group, g.Resource, g.Verb)
	if g.Name != "" {
		s += " " + g.Name
	}
	return s
}

// grants flattens the RBAC objects of a render into the permissions their
// bindings give, one string per subject/scope/group/resource/verb[/name],
// sorted and unique. A Role or ClusterRole no binding uses, or a binding to
// a role the render does not hold, is an error: every rule shipped must be
// accounted for.
func (o objects) grants(t testing.TB) []string {
	t.Helper()
	rules := map[string][]rbacv1.PolicyRule{} // "Kind/namespace/name"
	used := map[string]bool{}
	for _, u := range o.ofKind("ClusterRole") {
		var r rbacv1.ClusterRole
		convert(t, u, &r)
		if r.AggregationRule != nil {
			t.Errorf("ClusterRole %s aggregates other roles", r.Name)
		}
		rules["ClusterRole//"+r.Name] = r.Rules
	}
	for _, u := range o.ofKind("Role") {
		var r rbacv1.Role
		convert(t, u, &r)
		rules["Role/"+r.Namespace+"/"+r.Name] = r.Rules
	}
	set := map[string]bool{}
	add := func(subjects []rbacv1.Subject, scope string, ref rbacv1.RoleRef, bindingNS string) {
		key := "ClusterRole//" + ref.Name
		if ref.Kind == "Role" {
			key = "Role/" + bindingNS + "/" + ref.Name
		}
		rs, ok := rules[key]
		if !ok {
			t.Errorf("a binding in %q refers to %s, which the manifests do not hold", bindingNS, key)
			return
		}
		used[key] = true
		for _, s := range subjects {
			subject := s.Kind + ":" + s.Name
			if s.Kind == rbacv1.ServiceAccountKind {
				subject = "system:serviceaccount:" + s.Namespace + ":" + s.Name
			}
			for _, r := range rs {
				if len(r.NonResourceURLs) > 0 {
					t.Errorf("%s grants non-resource URLs %v", key, r.NonResourceURLs)
				}
				names := r.ResourceNames
				if len(names) == 0 {
					names = []string{""}
				}
				for _, g := range r.APIGroups {
					for _, res := range r.Resources {
						for _, v := range r.Verbs {
							for _, n := range names {
								set[grant{subject, scope, g, res, v, n}.String()] = true
							}
						}
					}
				}
			}
		}
	}
	for _, u := range o.ofKind("ClusterRoleBinding") {
		var b rbacv1.ClusterRoleBinding
		convert(t, u, &b)
		add(b.Subjects, "*", b.RoleRef, "")
	}
	for _, u := range o.ofKind("RoleBinding") {
		var b rbacv1.RoleBinding
		convert(t, u, &b)
		add(b.Subjects, b.Namespace, b.RoleRef, b.Namespace)
	}
	for key := range rules {
		if !used[key] {
			t.Errorf("%s is not bound by any binding of the manifests", key)
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// perms builds expected grant strings: one per verb (and resource name).
func perms(subject, scope, group, resource string, verbs []string, names ...string) []string {
	if len(names) == 0 {
		names = []string{""}
	}
	var out []string
	for _, v := range verbs {
		for _, n := range names {
			out = append(out, grant{subject, scope, group, resource, v, n}.String())
		}
	}
	return out
}

func sortedUnique(in ...[]string) []string {
	set := map[string]bool{}
	for _, l := range in {
		for _, s := range l {
			set[s] = true
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}

// diff lists what only a has and what only b has.
func diff(a, b []string) (onlyA, onlyB []string) {
	inA, inB := map[string]bool{}, map[string]bool{}
	for _, s := range a {
		inA[s] = true
	}
	for _, s := range b {
		inB[s] = true
	}
	for _, s := range a {
		if !inB[s] {
			onlyA = append(onlyA, s)
		}
	}
	for _, s := range b {
		if !inA[s] {
			onlyB = append(onlyB, s)
		}
	}
	return onlyA, onlyB
}

func hasArg(args []string, want string) bool {
	for _, a := range args {
		if a == want {
			return true
		}
	}
	return false
}

func argsWithPrefix(args []string, prefix string) []string {
	var out []string
	for _, a := range args {
		if strings.HasPrefix(a, prefix) {
			out = append(out, a)
		}
	}
	return out
}
