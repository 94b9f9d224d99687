// Package framework runs the whole system for end-to-end tests, the sandbox
// and the demo: a real kube-apiserver and etcd, cert-manager's controllers
// from its Go module, the Alibaba Cloud simulator, and this project's binary
// as a separate process.
package framework

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/go-logr/logr/funcr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/klog/v2"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

// ClusterResourceNamespace is where ClusterIssuer Secrets live.
const ClusterResourceNamespace = "cert-manager"

// Options configures a Framework.
type Options struct {
	// WorkDir holds the kubeconfig, binaries and logs; a temporary
	// directory when empty.
	WorkDir string
	// Sim configures the simulator. AccessKeys defaults to
	// {SimAccessKeyID: SimAccessKeySecret}.
	Sim aliyunsim.Config
	// CertManager configures cert-manager's controllers (Kubeconfig is set
	// by the framework).
	CertManager CertManagerOptions
	// IssuerBinary is a prebuilt issuer; built from main.go when empty.
	IssuerBinary string
	// IssuerArgs are extra flags for the issuer process.
	IssuerArgs []string
	// NoIssuer leaves the issuer process to the caller (StartIssuer).
	NoIssuer bool
	// ChartRBAC runs the issuer as the Helm chart's ServiceAccount, with
	// the chart's RBAC rendered with these values (nil: as cluster admin).
	ChartRBAC []string
}

// The simulator's default AccessKey pair: test data, not a secret.
const (
	SimAccessKeyID     = "sandbox-access-key-id"
	SimAccessKeySecret = "e2e-sandbox-secret-not-real"
)

// Framework is a running system.
type Framework struct {
	Env         *testenv.Env
	Client      client.Client
	Kubeconfig  string
	WorkDir     string
	Sim         *aliyunsim.Simulator
	SimURL      string
	CertManager *CertManager
	Issuer      *Process
	// IssuerBinary is the binary Issuer runs.
	IssuerBinary string
	// IssuerArgs are the issuer's flags (StartIssuer reuses them).
	IssuerArgs []string
	// ProbeAddr and MetricsAddr are the issuer's listeners.
	ProbeAddr, MetricsAddr string
	// IssuerKubeconfig is what the issuer process uses: the admin's, or
	// one acting as the chart's ServiceAccount.
	IssuerKubeconfig string
	// IssuerEnv is extra environment for the issuer process.
	IssuerEnv []string

	ownsWorkDir bool
	issuerLog   *os.File
}

// Start brings the whole system up. On error, whatever was started is
// stopped again.
func Start(ctx context.Context, opts Options) (f *Framework, err error) {
	f = &Framework{WorkDir: opts.WorkDir, IssuerArgs: opts.IssuerArgs}
	defer func() {
		if err != nil {
			_ = f.Stop()
			f = nil
		}
	}()
	if f.WorkDir == "" {
		if f.WorkDir, err = os.MkdirTemp("", "aliyun-cas-issuer-e2e-"); err != nil {
			return nil, err
		}
		f.ownsWorkDir = true
	}
	if err := routeLogs(filepath.Join(f.WorkDir, "cert-manager.log")); err != nil {
		return nil, err
	}

	if f.Env, err = testenv.Start(); err != nil {
		return nil, err
	}
	f.Client = f.Env.Client
	kc, err := f.Env.AddUser("e2e-admin", "system:masters")
	if err != nil {
		return nil, err
	}
	f.Kubeconfig = filepath.Join(f.WorkDir, "kubeconfig")
	if err := os.WriteFile(f.Kubeconfig, kc, 0o600); err != nil {
		return nil, err
	}
	if err := f.EnsureNamespace(ctx, ClusterResourceNamespace); err != nil {
		return nil, err
	}
	f.IssuerKubeconfig = f.Kubeconfig
	if opts.ChartRBAC != nil {
		if f.IssuerKubeconfig, err = f.installChartRBAC(ctx, opts.ChartRBAC); err != nil {
			return nil, err
		}
		// As the chart's Deployment sets it for rbac.secretsClusterWide.
		f.IssuerEnv = append(f.IssuerEnv, "ALIYUN_CAS_ISSUER_SECRET_NAMESPACES=*")
	}

	simCfg := opts.Sim
	if len(simCfg.AccessKeys) == 0 {
		simCfg.AccessKeys = map[string]string{SimAccessKeyID: SimAccessKeySecret}
	}
	if f.Sim, err = aliyunsim.New(simCfg); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}
	if f.SimURL, err = f.Sim.Start("127.0.0.1:0"); err != nil {
		return nil, fmt.Errorf("simulator: %w", err)
	}

	cmOpts := opts.CertManager
	cmOpts.Kubeconfig = f.Kubeconfig
	cmOpts.ClusterResourceNamespace = ClusterResourceNamespace
	if f.CertManager, err = StartCertManager(context.Background(), cmOpts); err != nil {
		return nil, err
	}

	f.IssuerBinary = opts.IssuerBinary
	if f.IssuerBinary == "" {
		if f.IssuerBinary, err = BuildIssuer(f.WorkDir); err != nil {
			return nil, err
		}
	}
	if !opts.NoIssuer {
		if err := f.StartIssuer(ctx); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// IssuerProcess is one running issuer binary and its listeners.
type IssuerProcess struct {
	*Process
	ProbeAddr, MetricsAddr string
}

// StartIssuer starts the issuer process (again) as f.Issuer and waits until
// it is ready.
func (f *Framework) StartIssuer(ctx context.Context, extraArgs ...string) error {
	p, err := f.LaunchIssuer(ctx, extraArgs...)
	if err != nil {
		return err
	}
	f.Issuer, f.ProbeAddr, f.MetricsAddr = p.Process, p.ProbeAddr, p.MetricsAddr
	return nil
}

// LaunchIssuer starts one more issuer process (e.g. a second replica) and
// waits until it is ready; the caller stops it.
func (f *Framework) LaunchIssuer(ctx context.Context, extraArgs ...string) (*IssuerProcess, error) {
	probe, err := freeAddr()
	if err != nil {
		return nil, err
	}
	metrics, err := freeAddr()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig=" + f.IssuerKubeconfig,
		"--cluster-resource-namespace=" + ClusterResourceNamespace,
		"--health-probe-bind-address=" + probe,
		"--metrics-bind-address=" + metrics,
		// The simulator serves plain http on loopback.
		"--allow-insecure-endpoints",
		// The simulator lists a new order at once: no need to wait minutes.
		"--order-settle-time=30s",
	}, f.IssuerArgs...)
	args = append(args, extraArgs...)
	// Every issuer process of the framework appends to one log file.
	if f.issuerLog == nil {
		if f.issuerLog, err = os.OpenFile(filepath.Join(f.WorkDir, "issuer.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600); err != nil {
			return nil, err
		}
	}
	// Ambient credentials must never reach for the ECS metadata service
	// from a test machine.
	env := append([]string{"ALIBABA_CLOUD_ECS_METADATA_DISABLED=true"}, f.IssuerEnv...)
	p, err := StartProcess("aliyun-cas-issuer", f.IssuerBinary, args, env, f.issuerLog)
	if err != nil {
		return nil, err
	}
	if err := waitReady(ctx, p, probe); err != nil {
		p.Kill()
		return nil, err
	}
	return &IssuerProcess{Process: p, ProbeAddr: probe, MetricsAddr: metrics}, nil
}

func waitReady(ctx context.Context, p *Process, probeAddr string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	url := "http://" + probeAddr + "/readyz"
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p.Exited() {
			return fmt.Errorf("issuer exited before it was ready:\n%s", p.Output())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("issuer not ready at %s: %w\n%s", url, ctx.Err(), p.Output())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// Stop stops everything Start started, in reverse order.
func (f *Framework) Stop() error {
	if f == nil {
		return nil
	}
	var errs []error
	if f.Issuer != nil {
		if err := f.Issuer.Stop(15 * time.Second); err != nil {
			errs = append(errs, err)
		}
	}
	if f.CertManager != nil {
		if err := f.CertManager.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if f.Sim != nil {
		_ = f.Sim.Close()
	}
	if f.issuerLog != nil {
		_ = f.issuerLog.Close()
	}
	if f.Env != nil {
		if err := f.Env.Stop(); err != nil {
			errs = append(errs, err)
		}
	}
	if f.ownsWorkDir && len(errs) == 0 {
		_ = os.RemoveAll(f.WorkDir)
	}
	if len(errs) > 0 {
		return fmt.Errorf("stopping: %v", errs)
	}
	return nil
}

// EnsureNamespace creates a namespace if it does not exist.
func (f *Framework) EnsureNamespace(ctx context.Context, name string) error {
	err := f.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

// routeLogs sends cert-manager's (klog) logs to a file: they are many, and
// the test output should show the test's own lines.
func routeLogs(path string) error {
	fh, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	klog.SetLogger(funcr.New(func(prefix, args string) {
		fmt.Fprintln(fh, time.Now().Format(time.RFC3339Nano), prefix, args)
	}, funcr.Options{Verbosity: 1}))
	return nil
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}
