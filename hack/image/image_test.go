package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"debug/elf"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const testVersion = "v9.8.7-test"

// buildIssuer builds the linux/amd64 issuer as `make image` does, through
// hack/tools.sh, into a temporary BIN.
func buildIssuer(t *testing.T) string {
	t.Helper()
	bin := t.TempDir()
	cmd := exec.Command("bash", "../tools.sh", "issuer-linux-amd64")
	cmd.Env = append(os.Environ(), "BIN="+bin, "VERSION="+testVersion)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building the issuer: %v\n%s", err, out)
	}
	return filepath.Join(bin, "linux-amd64", "aliyun-cas-issuer")
}

// buildStub builds an empty static program for goarch: a stand-in for the
// issuer on a platform this machine cannot run.
func buildStub(t *testing.T, goarch string) string {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module stub\n\ngo 1.26\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "stub")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+goarch)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building a %s stub: %v\n%s", goarch, err, b)
	}
	return out
}

// imageArgs are the flags `make image` passes, with this repository's
// Dockerfile and chart.
func imageArgs(t *testing.T, out string, binaries map[string]string) []string {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	args := []string{"-out", out, "-dockerfile", "../../Dockerfile", "-chart", "../../deploy/charts/aliyun-cas-issuer",
		"-build-arg", "VERSION=" + testVersion, "-build-arg", "REVISION=0123abc"}
	for p, b := range binaries {
		args = append(args, "-binary", p+"="+b)
	}
	return args
}

func makeImage(t *testing.T, out string, binaries map[string]string) {
	t.Helper()
	if err := run(imageArgs(t, out, binaries)); err != nil {
		t.Fatal(err)
	}
}

// copyFile copies src to a new file (a new mtime and path: neither may
// change the image).
func copyFile(t *testing.T, src string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.WriteFile(dst, b, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(dst, time.Unix(1, 0), time.Unix(1, 0)); err != nil {
		t.Fatal(err)
	}
	return dst
}

// layout reads an OCI layout directory, checking every blob's digest.
type layout struct {
	t   *testing.T
	dir string
}

func (l layout) blob(want string, into any) []byte {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, "blobs", "sha256", strings.TrimPrefix(want, "sha256:")))
	if err != nil {
		l.t.Fatal(err)
	}
	if got := digest(b); got != want {
		l.t.Fatalf("blob %s has digest %s", want, got)
	}
	if into != nil {
		if err := json.Unmarshal(b, into); err != nil {
			l.t.Fatalf("blob %s: %v", want, err)
		}
	}
	return b
}

// extract unpacks a manifest's layers in order into dir and returns every
// path they hold.
func (l layout) extract(m manifest, dir string) []string {
	l.t.Helper()
	var paths []string
	for _, ld := range m.Layers {
		zr, err := gzip.NewReader(bytes.NewReader(l.blob(ld.Digest, nil)))
		if err != nil {
			l.t.Fatal(err)
		}
		tr := tar.NewReader(zr)
		for {
			h, err := tr.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				l.t.Fatal(err)
			}
			paths = append(paths, h.Name)
			p := filepath.Join(dir, filepath.FromSlash(h.Name))
			switch h.Typeflag {
			case tar.TypeDir:
				if err := os.MkdirAll(p, 0o755); err != nil {
					l.t.Fatal(err)
				}
			case tar.TypeReg:
				b, err := io.ReadAll(tr)
				if err != nil {
					l.t.Fatal(err)
				}
				if err := os.WriteFile(p, b, os.FileMode(h.Mode)&0o777); err != nil {
					l.t.Fatal(err)
				}
			default:
				l.t.Fatalf("layer entry %s of type %c: only files and directories expected", h.Name, h.Typeflag)
			}
		}
	}
	return paths
}

func TestImage(t *testing.T) {
	issuer := buildIssuer(t)
	arm := buildStub(t, "arm64")
	out := t.TempDir()
	makeImage(t, out, map[string]string{"linux/amd64": issuer, "linux/arm64": arm})

	l := layout{t, filepath.Join(out, layoutName)}
	var top index
	if err := json.Unmarshal(l.blobFile("index.json"), &top); err != nil {
		t.Fatal(err)
	}
	if len(top.Manifests) != 1 || top.Manifests[0].MediaType != mediaTypeIndex {
		t.Fatalf("index.json should name one image index: %+v", top)
	}
	if got, want := top.Manifests[0].Annotations["io.containerd.image.name"], "ghcr.io/aliyun-cas-issuer/aliyun-cas-issuer:"; !strings.HasPrefix(got, want) {
		t.Errorf("image name %q, want the chart's %s...", got, want)
	}
	var idx index
	l.blob(top.Manifests[0].Digest, &idx)
	platforms := map[string]descriptor{}
	for _, m := range idx.Manifests {
		platforms[m.Platform.OS+"/"+m.Platform.Architecture] = m
	}
	if len(platforms) != 2 || platforms["linux/amd64"].Digest == "" || platforms["linux/arm64"].Digest == "" {
		t.Fatalf("image index platforms: %+v", idx.Manifests)
	}

	for p, wantMachine := range map[string]elf.Machine{"linux/amd64": elf.EM_X86_64, "linux/arm64": elf.EM_AARCH64} {
		var m manifest
		l.blob(platforms[p].Digest, &m)
		var cfg imageConfig
		l.blob(m.Config.Digest, &cfg)
		if cfg.Config.User != "65532:65532" {
			t.Errorf("%s: user %q, want 65532:65532", p, cfg.Config.User)
		}
		if strings.Join(cfg.Config.Entrypoint, " ") != "/aliyun-cas-issuer" {
			t.Errorf("%s: entrypoint %q", p, cfg.Config.Entrypoint)
		}
		if cfg.Config.Labels["org.opencontainers.image.version"] != testVersion ||
			cfg.Config.Labels["org.opencontainers.image.revision"] != "0123abc" ||
			cfg.Config.Labels["org.opencontainers.image.created"] != "2023-11-14T22:13:20Z" {
			t.Errorf("%s: labels %v", p, cfg.Config.Labels)
		}
		if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
			t.Errorf("%s: %d diff_ids for %d layers", p, len(cfg.RootFS.DiffIDs), len(m.Layers))
		}
		root := t.TempDir()
		paths := l.extract(m, root)
		for _, path := range paths {
			switch base := filepath.Base(strings.TrimSuffix(path, "/")); base {
			case "sh", "bash", "ash", "dash", "busybox":
				t.Errorf("%s: the image holds a shell: %s", p, path)
			}
		}
		passwd, err := os.ReadFile(filepath.Join(root, "etc", "passwd"))
		if err != nil || !strings.Contains(string(passwd), ":65532:65532:") {
			t.Errorf("%s: /etc/passwd has no entry for 65532: %v %q", p, err, passwd)
		}
		if ca, err := os.ReadFile(filepath.Join(root, caPath)); err != nil || !bytes.Contains(ca, []byte("BEGIN CERTIFICATE")) {
			t.Errorf("%s: no CA certificates at /%s: %v", p, caPath, err)
		}
		f, err := elf.Open(filepath.Join(root, "aliyun-cas-issuer"))
		if err != nil {
			t.Fatalf("%s: %v", p, err)
		}
		if f.Machine != wantMachine {
			t.Errorf("%s: the binary is for %s", p, f.Machine)
		}
		f.Close()
		if p == "linux/amd64" {
			got, err := exec.Command(filepath.Join(root, "aliyun-cas-issuer"), "--version").CombinedOutput()
			if err != nil || strings.TrimSpace(string(got)) != "aliyun-cas-issuer "+testVersion {
				t.Errorf("extracted binary --version: %v %q", err, got)
			}
		}
	}

	var doc spdxDocument
	b, err := os.ReadFile(filepath.Join(out, sbomName))
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, pkg := range doc.Packages {
		names[pkg.Name] = true
		if pkg.Name == "github.com/aliyun-cas-issuer/aliyun-cas-issuer" && pkg.VersionInfo != testVersion {
			t.Errorf("SBOM: the main module's version is %q, want %s", pkg.VersionInfo, testVersion)
		}
	}
	for _, want := range []string{"github.com/aliyun-cas-issuer/aliyun-cas-issuer", "github.com/aliyun/alibaba-cloud-sdk-go", "sigs.k8s.io/controller-runtime", "stdlib"} {
		if !names[want] {
			t.Errorf("SBOM lacks %s", want)
		}
	}
	if !strings.HasSuffix(doc.DocumentNamespace, top.Manifests[0].Digest) {
		t.Errorf("SBOM namespace %q does not name the image digest", doc.DocumentNamespace)
	}

	t.Run("reproducible", func(t *testing.T) {
		again := t.TempDir()
		makeImage(t, again, map[string]string{"linux/amd64": copyFile(t, issuer), "linux/arm64": copyFile(t, arm)})
		for _, name := range []string{tarballName, sbomName, filepath.Join(layoutName, "index.json")} {
			a, _ := os.ReadFile(filepath.Join(out, name))
			b, _ := os.ReadFile(filepath.Join(again, name))
			if len(a) == 0 || !bytes.Equal(a, b) {
				t.Errorf("%s differs between two builds of the same binaries", name)
			}
		}
	})
}

func (l layout) blobFile(name string) []byte {
	l.t.Helper()
	b, err := os.ReadFile(filepath.Join(l.dir, name))
	if err != nil {
		l.t.Fatal(err)
	}
	return b
}

func TestImageRefusesWrongBinaries(t *testing.T) {
	arm := buildStub(t, "arm64")
	dynamic, err := exec.LookPath("sh")
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]struct {
		binaries map[string]string
		want     string
	}{
		"architecture mismatch": {map[string]string{"linux/amd64": arm}, "not amd64"},
		"dynamically linked":    {map[string]string{"linux/amd64": dynamic}, "dynamically linked"},
		"unknown platform":      {map[string]string{"linux/s390x": arm}, "unsupported architecture"},
	} {
		t.Run(name, func(t *testing.T) {
			err := run(imageArgs(t, t.TempDir(), c.binaries))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want an error containing %q", err, c.want)
			}
		})
	}
}

func TestDockerfileUserMustBeNumericNonRoot(t *testing.T) {
	for user, ok := range map[string]bool{"65532:65532": true, "65532": true, "0:0": false, "nonroot": false} {
		_, _, err := parseUser(user)
		if (err == nil) != ok {
			t.Errorf("parseUser(%q) = %v", user, err)
		}
	}
}
