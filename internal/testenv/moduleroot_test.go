package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// A binary built with -trimpath has no source path to start from: the root
// is found from the working directory, skipping go.mod files of other modules.
func TestModuleRootAboveSkipsOtherModules(t *testing.T) {
	root := t.TempDir()
	nested := filepath.Join(root, "hack", "tools")
	if err := os.MkdirAll(nested, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(dir, module string) {
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module "+module+"\n\ngo 1.26\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(root, thisModule)
	write(nested, thisModule+"/hack/tools")
	got, err := moduleRootAbove(nested)
	if err != nil || got != root {
		t.Fatalf("moduleRootAbove(%s) = %q, %v; want %q", nested, got, err, root)
	}
	if _, err := moduleRootAbove(t.TempDir()); err == nil {
		t.Fatal("a directory outside the project has no module root, yet one was found")
	}
}

func TestModuleRootFromSource(t *testing.T) {
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "internal", "testenv", "moduleroot_test.go")); err != nil {
		t.Fatalf("ModuleRoot() = %s, which does not hold this package: %v", root, err)
	}
}
