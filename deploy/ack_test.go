package deploy_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// The ACK recipes: docs/ack.md quotes every file of deploy/examples/ack as
// it is, and the tests check the files themselves.
const (
	ackDocRel      = "docs/ack.md"
	ackExamplesRel = "deploy/examples/ack"
)

func ackFiles(t *testing.T, ext string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), ackExamplesRel, "*"+ext))
	if err != nil || len(files) == 0 {
		t.Fatalf("no %s files in %s: %v", ext, ackExamplesRel, err)
	}
	return files
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// quotedBlock is the fenced code block that follows the first line of doc
// naming rel, without its fences, or "" when there is none.
func quotedBlock(doc, rel string) string {
	lines := strings.Split(doc, "\n")
	for i, l := range lines {
		if !strings.Contains(l, "[`"+rel+"`]") {
			continue
		}
		for j := i + 1; j < len(lines); j++ {
			if strings.HasPrefix(lines[j], "```") {
				for k := j + 1; k < len(lines); k++ {
					if strings.HasPrefix(lines[k], "```") {
						return strings.Join(lines[j+1:k], "\n")
					}
				}
				return ""
			}
			if strings.TrimSpace(lines[j]) != "" {
				return ""
			}
		}
	}
	return ""
}

func TestACKDocQuotesEveryExample(t *testing.T) {
	doc := readFile(t, filepath.Join(root(t), ackDocRel))
	files := append(ackFiles(t, ".yaml"), ackFiles(t, ".json")...)
	for _, f := range files {
		rel := ackExamplesRel + "/" + filepath.Base(f)
		got := quotedBlock(doc, rel)
		if got != strings.TrimRight(readFile(t, f), "\n") {
			t.Errorf("%s does not quote %s as it is (found %d characters)", ackDocRel, rel, len(got))
		}
	}
}

// TestACKManifestsServerSide: every Kubernetes file of the recipes, and the
// chart rendered with every values file, is accepted by a real API server.
// ACK's AlbConfig is checked only as an object of its kind (a schemaless
// stand-in CRD): its fields are ACK's to validate.
func TestACKManifestsServerSide(t *testing.T) {
	c, w := warningClient(t)
	for _, f := range ackFiles(t, ".yaml") {
		name := filepath.Base(f)
		t.Run(name, func(t *testing.T) {
			var objs objects
			if strings.HasSuffix(name, "-values.yaml") {
				objs = mustHelm(t, releaseName, installNS, readFile(t, f))
			} else {
				var err error
				if objs, err = parseManifests([]byte(readFile(t, f))); err != nil {
					t.Fatal(err)
				}
			}
			if len(objs) == 0 {
				t.Fatal("no objects")
			}
			w.take()
			apply(t, c, objs, true)
			for _, msg := range w.take() {
				t.Errorf("API server warning: %s", msg)
			}
		})
	}
}

// The RRSA recipe's pieces fit together: the chart's ServiceAccount carries
// the role the trust policy is for, and that policy trusts exactly that
// ServiceAccount.
func TestACKRRSARecipe(t *testing.T) {
	objs := mustHelm(t, releaseName, installNS, readFile(t, filepath.Join(root(t), ackExamplesRel, "rrsa-values.yaml")))
	var sa corev1.ServiceAccount
	convert(t, objs.get(t, "ServiceAccount", releaseName), &sa)
	if role := sa.Annotations["pod-identity.alibabacloud.com/role-name"]; role != "aliyun-cas-issuer" {
		t.Errorf("ServiceAccount role annotation %q, want the docs' role aliyun-cas-issuer", role)
	}
	if got := controller(t, objs.deployment(t)); got.Name == "" {
		t.Fatal("no controller container")
	}
	if v := objs.deployment(t).Spec.Template.Labels["pod-identity.alibabacloud.com/injection"]; v != "on" {
		t.Errorf("pods not labelled for the RRSA webhook: %q", v)
	}
	trust := readPolicy(t, filepath.Join(root(t), ackExamplesRel, "rrsa-trust-policy.json"))
	cond := trust.Statement[0].Condition["StringEquals"]
	if want := "system:serviceaccount:" + installNS + ":" + sa.Name; cond["oidc:sub"] != want {
		t.Errorf("trust policy oidc:sub %q, want the chart's ServiceAccount %q", cond["oidc:sub"], want)
	}
	if cond["oidc:aud"] != "sts.aliyuncs.com" {
		t.Errorf("trust policy oidc:aud %q", cond["oidc:aud"])
	}
}

// ramPolicy is a RAM policy document (version 1).
type ramPolicy struct {
	Version   string
	Statement []struct {
		Effect    string
		Action    stringList
		Resource  stringList
		Principal map[string]stringList
		Condition map[string]map[string]string
	}
}

// stringList is a RAM policy field that is a string or a list of strings.
type stringList []string

func (s *stringList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*s = []string{one}
		return nil
	}
	return json.Unmarshal(b, (*[]string)(s))
}

func readPolicy(t *testing.T, path string) ramPolicy {
	t.Helper()
	var p ramPolicy
	dec := json.NewDecoder(strings.NewReader(readFile(t, path)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if p.Version != "1" || len(p.Statement) == 0 {
		t.Fatalf("%s: want Version \"1\" and statements", path)
	}
	return p
}

var ramAction = regexp.MustCompile(`^(yundun-cert|alidns|sts):[A-Z][A-Za-z]+$`)

func (p ramPolicy) actions(t *testing.T, path string) []string {
	t.Helper()
	var out []string
	for _, st := range p.Statement {
		if st.Effect != "Allow" || len(st.Action) == 0 {
			t.Errorf("%s: a statement that allows nothing", path)
		}
		for _, a := range st.Action {
			if !ramAction.MatchString(a) {
				t.Errorf("%s: %q is not a RAM action of CAS, Alidns or STS", path, a)
			}
			out = append(out, a)
		}
	}
	sort.Strings(out)
	return slices.Compact(out)
}

// The per-orderAPI policies and the sync's together are the one policy of
// docs/credentials.md, so the two pages cannot drift apart.
func TestACKRAMPolicies(t *testing.T) {
	var union []string
	for _, name := range []string{"ram-policy-instance.json", "ram-policy-csr.json", "ram-policy-dvorder.json", "ram-policy-alidns.json", "ram-policy-sync.json"} {
		path := filepath.Join(root(t), ackExamplesRel, name)
		union = append(union, readPolicy(t, path).actions(t, path)...)
	}
	instancePath := filepath.Join(root(t), ackExamplesRel, "ram-policy-instance.json")
	for _, a := range readPolicy(t, instancePath).actions(t, instancePath) {
		if !strings.HasPrefix(a, "yundun-cert:") {
			t.Errorf("instance policy: %s is not a CAS action", a)
		}
	}
	sort.Strings(union)
	union = slices.Compact(union) // the sync shares actions with the order APIs

	creds := readFile(t, filepath.Join(root(t), "docs", "credentials.md"))
	_, section, ok := strings.Cut(creds, "## RAM policy")
	if !ok {
		t.Fatal("docs/credentials.md has no RAM policy section")
	}
	_, block, _ := strings.Cut(section, "```json\n")
	block, _, _ = strings.Cut(block, "```")
	tmp := filepath.Join(t.TempDir(), "credentials-policy.json")
	if err := os.WriteFile(tmp, []byte(block), 0o600); err != nil {
		t.Fatal(err)
	}
	want := readPolicy(t, tmp).actions(t, "docs/credentials.md")
	if !slices.Equal(union, want) {
		t.Errorf("the Instance, CSR, DVOrder, Alidns and sync policies of %s:\n%v\ndocs/credentials.md's policy:\n%v", ackExamplesRel, union, want)
	}
}
