// Package testenv starts a real Kubernetes control plane (kube-apiserver and
// etcd built by `make tools` into bin/) for tests, with cert-manager's CRDs
// and this project's CRDs installed.
//
// Typical use, once per test package:
//
//	var env *testenv.Env
//
//	func TestMain(m *testing.M) { os.Exit(testenv.Run(m, &env)) }
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// certManagerModule is the module whose deploy/crds the control plane gets.
const certManagerModule = "github.com/cert-manager/cert-manager"

// Env is a running control plane.
type Env struct {
	// Config reaches the API server as a cluster admin.
	Config *rest.Config
	// Scheme knows core Kubernetes, cert-manager and this project's types.
	Scheme *kruntime.Scheme
	// Client is an uncached client for test set-up and assertions.
	Client client.Client
	// Dir is the directory holding kube-apiserver and etcd.
	Dir string

	env *envtest.Environment
}

// NewScheme returns a scheme with every type the tests and the issuer use.
func NewScheme() (*kruntime.Scheme, error) {
	s := kruntime.NewScheme()
	for _, add := range []func(*kruntime.Scheme) error{
		clientgoscheme.AddToScheme, apiextensionsv1.AddToScheme, cmapi.AddToScheme, v1alpha1.AddToScheme,
	} {
		if err := add(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Start brings up etcd and kube-apiserver and installs the CRDs.
func Start() (*Env, error) {
	root, err := ModuleRoot()
	if err != nil {
		return nil, err
	}
	assets := os.Getenv("KUBEBUILDER_ASSETS")
	if assets == "" {
		assets = filepath.Join(root, "bin")
	}
	for _, b := range []string{"kube-apiserver", "etcd"} {
		if _, err := os.Stat(filepath.Join(assets, b)); err != nil {
			return nil, fmt.Errorf("control plane binary %s not found in %s: run `make tools`", b, assets)
		}
	}
	cmCRDs, err := CertManagerCRDDir()
	if err != nil {
		return nil, err
	}
	scheme, err := NewScheme()
	if err != nil {
		return nil, err
	}
	e := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{cmCRDs, filepath.Join(root, "deploy", "crds")},
		ErrorIfCRDPathMissing: true,
		Scheme:                scheme,
	}
	cfg, err := e.Start()
	if err != nil {
		return nil, fmt.Errorf("starting control plane from %s: %w", assets, err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		_ = e.Stop()
		return nil, err
	}
	return &Env{Config: cfg, Scheme: scheme, Client: c, Dir: assets, env: e}, nil
}

// Stop shuts the control plane down and removes its temporary files.
func (e *Env) Stop() error {
	if e == nil || e.env == nil {
		return nil
	}
	return e.env.Stop()
}

// AddUser creates a user with the given groups (e.g. "system:masters") and
// returns a kubeconfig for it, for processes started outside the test.
func (e *Env) AddUser(name string, groups ...string) ([]byte, error) {
	u, err := e.env.AddUser(envtest.User{Name: name, Groups: groups}, nil)
	if err != nil {
		return nil, err
	}
	return u.KubeConfig()
}

// Run starts the control plane, runs the package's tests and stops it; use
// it as `os.Exit(testenv.Run(m, &env))` in TestMain.
func Run(m *testing.M, env **Env) int {
	e, err := Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	*env = e
	code := m.Run()
	if err := e.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, "testenv: stopping control plane:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// NoCloudMetadata keeps credentials-go's default chain (ambient
// credentials) away from the ECS metadata service: tests reach nothing but
// this machine.
func NoCloudMetadata() {
	_ = os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
}

// ModuleRoot is the directory holding this project's go.mod: found from
// this source file's path, or, in a binary built with -trimpath (the demo and
// the sandbox are built like the issuer), from the working directory up.
func ModuleRoot() (string, error) {
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		if root, err := moduleRootAbove(filepath.Dir(file)); err == nil {
			return root, nil
		}
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	return moduleRootAbove(wd)
}

// moduleRootAbove is the nearest directory at or above dir whose go.mod
// declares this project's module.
func moduleRootAbove(dir string) (string, error) {
	for start := dir; ; {
		if b, err := os.ReadFile(filepath.Join(dir, "go.mod")); err == nil && declaresModule(b, thisModule) {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod of %s at or above %s: run from the project's checkout", thisModule, start)
		}
		dir = parent
	}
}

// thisModule is the module path go.mod declares.
const thisModule = "github.com/aliyun-cas-issuer/aliyun-cas-issuer"

func declaresModule(gomod []byte, module string) bool {
	for _, line := range strings.Split(string(gomod), "\n") {
		if f := strings.Fields(line); len(f) == 2 && f[0] == "module" && f[1] == module {
			return true
		}
	}
	return false
}

// CertManagerCRDDir is cert-manager's deploy/crds in the module cache, at
// the version go.mod pins (`go list -m` resolves it, downloading the module
// when the cache lacks it).
func CertManagerCRDDir() (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	cmd := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", certManagerModule)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("locating %s: %w", certManagerModule, err)
	}
	modDir := strings.TrimSpace(string(out))
	if modDir == "" {
		return "", fmt.Errorf("%s is not in the module cache: run `go mod download`", certManagerModule)
	}
	dir := filepath.Join(modDir, "deploy", "crds")
	if _, err := os.Stat(dir); err != nil {
		return "", fmt.Errorf("cert-manager CRDs not found: %w", err)
	}
	return dir, nil
}
