// Command aliyun-cas-issuer is a cert-manager external issuer for Alibaba
// Cloud SSL Certificates Service (CAS). This file only wires the manager:
// flags, scheme, controllers, probes and metrics, and the preflight subcommand.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/klog/v2"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/preflight"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "preflight" {
		// Checks an account before installing: read-only calls, no Kubernetes.
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := preflight.Main(ctx, os.Args[2:], os.Getenv, os.Stdout, os.Stderr)
		stop()
		os.Exit(code)
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "aliyun-cas-issuer:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		opts                    controllers.Options
		leaderElect             bool
		leaderElectionNamespace string
		metricsAddr             string
		probeAddr               string
	)
	// --kubeconfig is registered by controller-runtime.
	flag.StringVar(&opts.ClusterResourceNamespace, "cluster-resource-namespace", controllers.DefaultClusterResourceNamespace,
		"namespace holding the Secrets of AliyunCASClusterIssuers")
	flag.BoolVar(&leaderElect, "leader-elect", false,
		"use leader election, so that only one replica signs at a time")
	flag.StringVar(&leaderElectionNamespace, "leader-election-namespace", "",
		"namespace of the leader election lease (default: the pod's namespace)")
	flag.StringVar(&metricsAddr, "metrics-bind-address", ":8080",
		`address of the Prometheus metrics endpoint ("0" disables it)`)
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081",
		"address of the /healthz and /readyz endpoints")
	flag.IntVar(&opts.MaxConcurrentReconciles, "max-concurrent-reconciles", controllers.DefaultMaxConcurrentReconciles,
		"requests (and issuers) reconciled in parallel")
	flag.DurationVar(&opts.HealthCheckInterval, "health-check-interval", controllers.DefaultHealthCheckInterval,
		"how often each issuer's credentials are checked with a real API call")
	flag.DurationVar(&opts.Sync.CheckInterval, "sync-check-interval", controllers.DefaultSyncCheckInterval,
		"how often each AliyunCASCertificateSync checks that its upload still exists in CAS (one call)")
	flag.DurationVar(&opts.Sync.SecretPollInterval, "sync-secret-poll-interval", controllers.DefaultSyncSecretPollInterval,
		"how often each AliyunCASCertificateSync reads its Secret again (where Secrets are not watched)")
	flag.BoolVar(&opts.IssuerAmbientCredentials, "issuer-ambient-credentials", false,
		"let namespaced AliyunCASIssuers use the controller's own (ambient) credentials; cluster issuers always may")
	flag.BoolVar(&opts.AllowInsecureEndpoints, "allow-insecure-endpoints", false,
		"accept plain http endpoints, private and loopback addresses for namespaced issuers, and auth.stsEndpoint with ambient credentials on namespaced issuers (test set-ups only)")
	flag.DurationVar(&opts.OrderSettleTime, "order-settle-time", signer.DefaultSettleTime,
		"how long after an order whose answer was lost the issuer waits for it to show in CAS's listings before it may order again")
	flag.DurationVar(&opts.HandoverWait, "order-handover-wait", controllers.DefaultHandoverWait,
		"how long the open order of a CertificateRequest cert-manager deleted waits for the request it creates again for the same Certificate revision and key before it is cancelled")
	flag.Float64Var(&opts.RateLimit, "aliyun-rate-limit", 0,
		fmt.Sprintf("most calls per second to an Alibaba Cloud endpoint with one account, shared by the issuers using it; the issuer paces below it at the rate it learns from throttled answers (0: the default, %v)", signer.DefaultRateLimit))
	flag.IntVar(&opts.Burst, "aliyun-burst", 0, fmt.Sprintf("most calls in any one second to an Alibaba Cloud endpoint with one account; calls are spread evenly, never sent in a burst (0: the default, %v)", signer.DefaultBurst))
	flag.Func("aliyun-action-rate-limits", "per-action limits, calls per second per account, as Action=QPS[,Action=QPS...], added to the documented ones (GetTaskAttribute=10, GetUserCertificateDetail=100, ...; 0 removes one)",
		func(v string) error {
			m, err := signer.ParseActionRateLimits(v)
			if err != nil {
				return err
			}
			if opts.ActionRateLimits == nil {
				opts.ActionRateLimits = map[string]float64{}
			}
			maps.Copy(opts.ActionRateLimits, m)
			return nil
		})
	flag.Func("dns-nameservers", "comma-separated name servers (host or host:port) the Alidns propagation check queries when an issuer names none (default: each zone's NS records)",
		func(v string) error {
			opts.DNSNameservers = append(opts.DNSNameservers, strings.Split(v, ",")...)
			return nil
		})
	enableCSR := flag.Bool("enable-certificate-signing-requests", true,
		"sign Kubernetes CertificateSigningRequests (certificates.k8s.io/v1) for the signer names aliyuncasclusterissuers.aliyun-cas-issuer.io/<name> and aliyuncasissuers.aliyun-cas-issuer.io/<namespace>.<name>")
	kubeQPS := flag.Float64("kube-api-qps", 50, "requests per second to the Kubernetes API server")
	kubeBurst := flag.Int("kube-api-burst", 100, "burst of requests to the Kubernetes API server")
	showVersion := flag.Bool("version", false, "print the version and exit")
	// Structured logs: JSON by default, levels with --zap-log-level
	// (info, debug, or a number for more detail).
	logOpts := zap.Options{}
	logOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	if *showVersion {
		fmt.Println("aliyun-cas-issuer", version)
		return nil
	}

	opts.NoCertificateSigningRequests = !*enableCSR
	logger := zap.New(zap.UseFlagOptions(&logOpts))
	ctrl.SetLogger(logger)
	klog.SetLogger(logger)
	log := ctrl.Log.WithName("setup")

	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, cmapi.AddToScheme, v1alpha1.AddToScheme} {
		if err := add(scheme); err != nil {
			return err
		}
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return fmt.Errorf("loading kubeconfig: %w", err)
	}
	cfg.QPS, cfg.Burst = float32(*kubeQPS), *kubeBurst
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                        scheme,
		Cache:                         controllers.CacheOptions(os.Getenv(controllers.SecretNamespacesEnv), opts.ClusterResourceNamespace),
		Metrics:                       metricsserver.Options{BindAddress: metricsAddr},
		HealthProbeBindAddress:        probeAddr,
		LeaderElection:                leaderElect,
		LeaderElectionID:              "aliyun-cas-issuer.io",
		LeaderElectionNamespace:       leaderElectionNamespace,
		LeaderElectionReleaseOnCancel: true,
		GracefulShutdownTimeout:       ptr(30 * time.Second),
	})
	if err != nil {
		return fmt.Errorf("creating manager: %w", err)
	}
	if err := controllers.Setup(mgr, opts); err != nil {
		return fmt.Errorf("setting up controllers: %w", err)
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	// Ready only once the informer caches are synced: before that a
	// replica would act on an empty view of the cluster.
	if err := mgr.AddReadyzCheck("caches", func(req *http.Request) error {
		ctx, cancel := context.WithTimeout(req.Context(), time.Second)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return errors.New("informer caches are not synced yet")
		}
		return nil
	}); err != nil {
		return err
	}
	log.Info("starting", "version", version, "clusterResourceNamespace", opts.ClusterResourceNamespace,
		"healthCheckInterval", opts.HealthCheckInterval, "leaderElect", leaderElect)
	return mgr.Start(ctrl.SetupSignalHandler())
}

func ptr[T any](v T) *T { return &v }
