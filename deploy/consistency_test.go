package deploy_test

// Consistency of the manifests with the binary and the docs: every flag the
// manifests pass is one main.go defines, the leader election Lease the RBAC
// names is the one main.go elects with, and every repository path the docs
// name exists.

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// mainFlags are the flags main.go defines with the standard flag package
// (flag.XxxVar(&v, "name", ...) or flag.Xxx("name", ...)).
func mainFlags(t *testing.T) (flags map[string]bool, leaderElectionID string) {
	t.Helper()
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, filepath.Join(root(t), "main.go"), nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	flags = map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			sel, ok := n.Fun.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if x, ok := sel.X.(*ast.Ident); !ok || x.Name != "flag" {
				return true
			}
			for _, a := range n.Args[:min(2, len(n.Args))] {
				if lit, ok := a.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					if s, err := strconv.Unquote(lit.Value); err == nil {
						flags[s] = true
					}
					break
				}
			}
		case *ast.KeyValueExpr:
			if k, ok := n.Key.(*ast.Ident); ok && k.Name == "LeaderElectionID" {
				if lit, ok := n.Value.(*ast.BasicLit); ok && lit.Kind == token.STRING {
					leaderElectionID, _ = strconv.Unquote(lit.Value)
				}
			}
		}
		return true
	})
	return flags, leaderElectionID
}

// TestManifestFlagsExist: the binary knows every flag the manifests pass
// (extraArgs aside), and elects its leader with the Lease the RBAC names.
func TestManifestFlagsExist(t *testing.T) {
	flags, id := mainFlags(t)
	if id != leaseName {
		t.Errorf("main.go's LeaderElectionID is %q, the manifests' leader election Role names Lease %q: update deploy/ and this test together", id, leaseName)
	}
	renders := map[string]objects{
		"chart defaults":    mustHelm(t, releaseName, installNS, ""),
		"chart non-default": mustHelm(t, releaseName, fullNS, fullValues),
		"chart variants":    mustHelm(t, releaseName, installNS, "replicaCount: 1\nleaderElection: {enabled: false}\nmetrics: {enabled: false}\n"),
		"kustomize base":    kustomize(t, baseRel),
		"kustomize overlay": kustomize(t, overlayRel),
	}
	for name, objs := range renders {
		for _, a := range controller(t, objs.deployment(t)).Args {
			if a == "--example-extra-flag=1" { // fullValues' extraArgs
				continue
			}
			f := strings.TrimLeft(a, "-")
			f, _, _ = strings.Cut(f, "=")
			if !flags[f] {
				t.Errorf("%s: argument %q: main.go defines no flag %q", name, a, f)
			}
		}
	}
}

// pathRef finds repository paths in docs: `deploy/...`, `docs/...`,
// `hack/...` and the like in code spans, and relative Markdown links.
var (
	codeSpan = regexp.MustCompile("`([^`\\s]+)`")
	mdLink   = regexp.MustCompile(`\]\(([^)#\s]+)(#[^)]*)?\)`)
	repoDirs = []string{"deploy/", "docs/", "hack/", "api/", "controllers/", "signer/", "e2e/", "internal/"}
)

// TestDocsNameExistingFiles: every file or folder of this repository that
// docs/*.md or the chart's README names exists.
func TestDocsNameExistingFiles(t *testing.T) {
	r := root(t)
	docs, _ := filepath.Glob(filepath.Join(r, "docs", "*.md"))
	docs = append(docs, filepath.Join(r, chartRel, "README.md"))
	if len(docs) < 4 {
		t.Fatalf("docs/ holds %d Markdown files, want install.md, credentials.md and troubleshooting.md", len(docs)-1)
	}
	for _, doc := range docs {
		b, err := os.ReadFile(doc)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(r, doc)
		check := func(ref string, base string) {
			p := filepath.Join(base, filepath.FromSlash(ref))
			if _, err := os.Stat(p); err != nil {
				t.Errorf("%s names %q, which does not exist", rel, ref)
			}
		}
		for _, m := range codeSpan.FindAllStringSubmatch(string(b), -1) {
			ref := strings.TrimSuffix(m[1], "/")
			for _, d := range repoDirs {
				if strings.HasPrefix(ref, d) && !strings.ContainsAny(ref, "*<>{}$=:") {
					check(ref, r)
				}
			}
		}
		for _, m := range mdLink.FindAllStringSubmatch(string(b), -1) {
			if strings.Contains(m[1], "://") || strings.HasPrefix(m[1], "mailto:") {
				continue
			}
			check(m[1], filepath.Dir(doc))
		}
	}
}

// reasonConstants are the string constants named Reason* (api, controllers,
// signer) and event* (controllers' Event reasons) in the non-test Go files
// of the packages that set conditions and Events.
func reasonConstants(t *testing.T) map[string]string {
	t.Helper()
	out := map[string]string{} // value -> where
	for _, dir := range []string{"api/v1alpha1", "controllers", "signer", "signer/aliyun"} {
		files, _ := filepath.Glob(filepath.Join(root(t), dir, "*.go"))
		for _, file := range files {
			if strings.HasSuffix(file, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, 0)
			if err != nil {
				t.Fatal(err)
			}
			for _, d := range f.Decls {
				gd, ok := d.(*ast.GenDecl)
				if !ok || gd.Tok != token.CONST {
					continue
				}
				for _, spec := range gd.Specs {
					vs := spec.(*ast.ValueSpec)
					for i, name := range vs.Names {
						if i >= len(vs.Values) {
							continue
						}
						isReason := strings.HasPrefix(name.Name, "Reason") ||
							dir == "controllers" && strings.HasPrefix(name.Name, "event") && name.Name != "eventSource" && len(name.Name) > 5 && name.Name[5] >= 'A' && name.Name[5] <= 'Z'
						lit, ok := vs.Values[i].(*ast.BasicLit)
						if !isReason || !ok || lit.Kind != token.STRING {
							continue
						}
						v, _ := strconv.Unquote(lit.Value)
						out[v] = dir + "/" + filepath.Base(file) + " " + name.Name
					}
				}
			}
		}
	}
	return out
}

// TestTroubleshootingCoversReasons: docs/troubleshooting.md documents every
// condition and Event reason the code defines.
func TestTroubleshootingCoversReasons(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "docs", "troubleshooting.md"))
	if err != nil {
		t.Fatal(err)
	}
	reasons := reasonConstants(t)
	if len(reasons) < 10 {
		t.Fatalf("found only %d reason constants: has the code moved?", len(reasons))
	}
	for v, where := range reasons {
		if !strings.Contains(string(b), "`"+v+"`") {
			t.Errorf("docs/troubleshooting.md does not document reason `%s` (%s): add a row for it", v, where)
		}
	}
}
