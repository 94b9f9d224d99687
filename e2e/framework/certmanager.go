package framework

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	controller "github.com/cert-manager/cert-manager/pkg/controller"

	// Each import registers a cert-manager controller with controller.Known().
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificate-shim/ingresses"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/approver"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/ca"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificaterequests/selfsigned"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/issuing"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/keymanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/readiness"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/requestmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/revisionmanager"
	_ "github.com/cert-manager/cert-manager/pkg/controller/certificates/trigger"
	_ "github.com/cert-manager/cert-manager/pkg/controller/clusterissuers"
	_ "github.com/cert-manager/cert-manager/pkg/controller/issuers"

	// The issuers controllers need the in-tree issuer types registered.
	_ "github.com/cert-manager/cert-manager/pkg/issuer/ca"
	_ "github.com/cert-manager/cert-manager/pkg/issuer/selfsigned"
)

// Approver is the name of cert-manager's CertificateRequest approver; leave
// it out of CertManagerOptions.Controllers to keep requests unapproved.
const Approver = "certificaterequests-approver"

// DefaultCertManagerControllers is what a cert-manager installation runs for
// Certificates, Ingresses, the approver and the in-tree CA and self-signed
// issuers.
var DefaultCertManagerControllers = []string{
	"certificates-issuing",
	"certificates-key-manager",
	"certificates-request-manager",
	"certificates-readiness",
	"certificates-trigger",
	"certificates-revision-manager",
	Approver,
	"certificaterequests-issuer-ca",
	"certificaterequests-issuer-selfsigned",
	"ingress-shim",
	"issuers",
	"clusterissuers",
}

// CertManagerOptions configures the in-process cert-manager controllers.
type CertManagerOptions struct {
	// Kubeconfig is a kubeconfig file for the control plane.
	Kubeconfig string
	// Controllers to run; nil means DefaultCertManagerControllers.
	Controllers []string
	// ClusterResourceNamespace as cert-manager's flag of that name.
	ClusterResourceNamespace string
	// Workers per controller (cert-manager's default is 5).
	Workers int
	// MinimumBackoff after a failed request (cert-manager's default is 1h;
	// tests shorten it).
	MinimumBackoff time.Duration
}

// CertManager is cert-manager's controllers running in this process, from
// the cert-manager Go module: the same code a cluster runs.
type CertManager struct {
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex
	errs   []error
}

// StartCertManager builds and runs the named controllers until Stop.
func StartCertManager(parent context.Context, opts CertManagerOptions) (*CertManager, error) {
	names := opts.Controllers
	if names == nil {
		names = DefaultCertManagerControllers
	}
	if opts.Workers == 0 {
		opts.Workers = 5
	}
	if opts.MinimumBackoff == 0 {
		opts.MinimumBackoff = time.Hour
	}
	if opts.ClusterResourceNamespace == "" {
		opts.ClusterResourceNamespace = "cert-manager"
	}
	ctx, cancel := context.WithCancel(parent)
	factory, err := controller.NewContextFactory(ctx, controller.ContextOptions{
		Kubeconfig:         opts.Kubeconfig,
		KubernetesAPIQPS:   100,
		KubernetesAPIBurst: 200,
		IssuerOptions:      controller.IssuerOptions{ClusterResourceNamespace: opts.ClusterResourceNamespace},
		IngressShimOptions: controller.IngressShimOptions{DefaultIssuerKind: "Issuer", DefaultIssuerGroup: "cert-manager.io"},
		CertificateOptions: controller.CertificateOptions{
			CertificateRequestMinimumBackoffDuration: opts.MinimumBackoff,
			CertificateRequestMaximumBackoffDuration: 32 * opts.MinimumBackoff,
		},
	})
	if err != nil {
		cancel()
		return nil, fmt.Errorf("cert-manager context: %w", err)
	}
	known := controller.Known()
	var ifaces []controller.Interface
	for _, name := range names {
		fn, ok := known[name]
		if !ok {
			cancel()
			return nil, fmt.Errorf("unknown cert-manager controller %q (known: %v)", name, knownNames(known))
		}
		iface, err := fn(factory)
		if err != nil {
			cancel()
			return nil, fmt.Errorf("constructing cert-manager controller %s: %w", name, err)
		}
		ifaces = append(ifaces, iface)
	}
	// Informer factories are shared by every Context the factory builds:
	// start them once, after all controllers registered their informers.
	cmctx, err := factory.Build()
	if err != nil {
		cancel()
		return nil, err
	}
	cmctx.KubeSharedInformerFactory.Start(ctx.Done())
	cmctx.SharedInformerFactory.Start(ctx.Done())
	cmctx.HTTP01ResourceMetadataInformersFactory.Start(ctx.Done())

	cm := &CertManager{cancel: cancel}
	for i, iface := range ifaces {
		cm.wg.Add(1)
		go func(name string, iface controller.Interface) {
			defer cm.wg.Done()
			if err := iface.Run(opts.Workers, ctx); err != nil {
				cm.mu.Lock()
				cm.errs = append(cm.errs, fmt.Errorf("%s: %w", name, err))
				cm.mu.Unlock()
			}
		}(names[i], iface)
	}
	return cm, nil
}

// Stop stops every controller and waits for them.
func (c *CertManager) Stop() error {
	c.cancel()
	done := make(chan struct{})
	go func() { c.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("cert-manager controllers did not stop within 30s")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.errs) > 0 {
		return fmt.Errorf("cert-manager controllers: %v", c.errs)
	}
	return nil
}

func knownNames(m map[string]controller.Constructor) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
