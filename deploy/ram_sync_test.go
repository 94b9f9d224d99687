package deploy_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// apiCall is one c.Call(ctx, api, "Action", ...) of the Alibaba client: api is
// the constant naming the API version (CAS, CASLegacy), or "" when the method
// takes it as a parameter.
type apiCall struct{ api, action string }

// clientActions maps each method of signer/aliyun's Client to the actions it
// calls; accessors, which call nothing at all, are in local.
func clientActions(t *testing.T) (out map[string][]apiCall, local map[string]bool) {
	t.Helper()
	out, local = map[string][]apiCall{}, map[string]bool{}
	for _, f := range parseDir(t, filepath.Join("signer", "aliyun")) {
		for _, d := range f.Decls {
			fn, ok := d.(*ast.FuncDecl)
			if !ok || fn.Recv == nil || fn.Body == nil {
				continue
			}
			local[fn.Name.Name] = true
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				call, ok := n.(*ast.CallExpr)
				if ok {
					local[fn.Name.Name] = false
				}
				if !ok || len(call.Args) < 3 {
					return true
				}
				if sel, ok := call.Fun.(*ast.SelectorExpr); !ok || sel.Sel.Name != "Call" {
					return true
				}
				lit, ok := call.Args[2].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				action, _ := strconv.Unquote(lit.Value)
				api := ""
				if id, ok := call.Args[1].(*ast.Ident); ok && id.Name != "api" {
					api = id.Name
				}
				out[fn.Name.Name] = append(out[fn.Name.Name], apiCall{api, action})
				return true
			})
		}
	}
	return out, local
}

// parseDir parses the non-test Go files of a directory of the repository.
func parseDir(t *testing.T, rel string) []*ast.File {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(root(t), rel, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", rel, err)
	}
	var out []*ast.File
	fset := token.NewFileSet()
	for _, file := range files {
		if strings.HasSuffix(file, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, file, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

// uploaderMethods are the client methods signer/upload*.go calls (u.client.X).
func uploaderMethods(t *testing.T) []string {
	t.Helper()
	var out []string
	for _, f := range parseDir(t, "signer") {
		if name := f.Name.Name; name != "signer" {
			continue
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if inner, ok := sel.X.(*ast.SelectorExpr); ok && inner.Sel.Name == "client" {
				if recv, ok := inner.X.(*ast.Ident); ok && recv.Name == "u" {
					out = append(out, sel.Sel.Name)
				}
			}
			return true
		})
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// Every CAS action the certificate sync's uploader calls is in a policy file:
// the 2020-04-07 ones in ram-policy-sync.json, the 2018-07-13 ones (spec.api
// "2018-07-13") in ram-policy-dvorder.json, which docs/ack.md names for them.
func TestSyncRAMPolicyCoversTheUploader(t *testing.T) {
	policy := func(name string) []string {
		path := filepath.Join(root(t), ackExamplesRel, name)
		return readPolicy(t, path).actions(t, path)
	}
	sync, legacy := policy("ram-policy-sync.json"), policy("ram-policy-dvorder.json")
	actions, local := clientActions(t)
	methods := uploaderMethods(t)
	if len(methods) < 4 {
		t.Fatalf("found only %v as the uploader's client calls", methods)
	}
	var needed []string
	for _, m := range methods {
		calls := actions[m]
		if len(calls) == 0 && !local[m] {
			t.Errorf("the uploader calls Client.%s, which makes no c.Call with a literal action", m)
		}
		for _, c := range calls {
			a := "yundun-cert:" + c.action
			if c.api != "CASLegacy" {
				needed = append(needed, a)
				if !slices.Contains(sync, a) {
					t.Errorf("Client.%s calls %s (CAS 2020-04-07), which ram-policy-sync.json lacks", m, a)
				}
			}
			if c.api != "CAS" && !slices.Contains(legacy, a) {
				t.Errorf("Client.%s calls %s (CAS 2018-07-13), which ram-policy-dvorder.json lacks", m, a)
			}
		}
	}
	for _, a := range sync {
		if !slices.Contains(needed, a) {
			t.Errorf("ram-policy-sync.json allows %s, which the uploader never calls", a)
		}
	}
}
