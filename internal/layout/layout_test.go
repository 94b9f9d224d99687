package layout

import (
	"bufio"
	"bytes"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

// maxLines bounds every non-test, non-generated Go file: small files with
// one job.
const maxLines = 500

func goList(t *testing.T, root string, args ...string) []string {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list"}, args...)...)
	cmd.Dir = root
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return strings.Fields(string(out))
}

func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

// TestSignerHasNoKubernetes: the Alibaba side (signer/ and everything it
// builds on) imports no Kubernetes package.
func TestSignerHasNoKubernetes(t *testing.T) {
	deps := goList(t, moduleRoot(t), "-deps", "-f", "{{.ImportPath}}", "./signer/...")
	if len(deps) == 0 {
		t.Fatal("go list found no dependencies of ./signer/...")
	}
	for _, d := range deps {
		if strings.HasPrefix(d, "k8s.io/") || strings.HasPrefix(d, "sigs.k8s.io/") {
			t.Errorf("signer depends on %s", d)
		}
	}
}

// TestControllersHaveNoAlibabaSDK: the Kubernetes side (controllers/) never
// imports the Alibaba Cloud SDK; it talks to Alibaba Cloud through signer.
func TestControllersHaveNoAlibabaSDK(t *testing.T) {
	imports := goList(t, moduleRoot(t), "-f", `{{join .Imports "\n"}}`, "./controllers/...")
	if len(imports) == 0 {
		t.Fatal("go list found no imports in ./controllers/...")
	}
	for _, imp := range imports {
		if isAlibabaSDK(imp) || strings.HasSuffix(imp, "/signer/aliyun") {
			t.Errorf("controllers import %s", imp)
		}
	}
}

func isAlibabaSDK(path string) bool {
	return strings.HasPrefix(path, "github.com/aliyun/") || strings.HasPrefix(path, "github.com/alibabacloud-go/")
}

func TestIsAlibabaSDK(t *testing.T) {
	for path, want := range map[string]bool{
		"github.com/alibabacloud-go/tea/tea":                 true,
		"github.com/aliyun/credentials-go/credentials":       true,
		"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api": false,
		"k8s.io/api/core/v1":                                 false,
	} {
		if got := isAlibabaSDK(path); got != want {
			t.Errorf("isAlibabaSDK(%q) = %v", path, got)
		}
	}
}

// TestFileSize: no non-test, non-generated Go file is over maxLines lines.
func TestFileSize(t *testing.T) {
	root := moduleRoot(t)
	checked := 0
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case ".git", "bin", "vendor", "testdata":
				return filepath.SkipDir
			}
			return nil
		}
		name := d.Name()
		if !strings.HasSuffix(name, ".go") || strings.HasSuffix(name, "_test.go") {
			return nil
		}
		generated, lines, err := scan(path)
		if err != nil {
			return err
		}
		if generated {
			return nil
		}
		checked++
		if lines > maxLines {
			rel, _ := filepath.Rel(root, path)
			t.Errorf("%s has %d lines (at most %d)", rel, lines, maxLines)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if checked < 50 {
		t.Fatalf("only %d Go files checked: is the module root right (%s)?", checked, root)
	}
}

// scan counts a file's lines and tells whether it is generated (the
// "Code generated ... DO NOT EDIT." line Go tools write).
func scan(path string) (generated bool, lines int, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, 0, err
	}
	defer func() { _ = f.Close() }()
	s := bufio.NewScanner(f)
	s.Buffer(make([]byte, 1<<20), 1<<20)
	for s.Scan() {
		lines++
		if l := s.Text(); strings.HasPrefix(l, "// Code generated ") && strings.HasSuffix(l, " DO NOT EDIT.") {
			generated = true
		}
	}
	return generated, lines, s.Err()
}
