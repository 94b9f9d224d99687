// Package controllers is the Kubernetes side of the issuer: it watches
// cert-manager CertificateRequests that name an AliyunCASIssuer or
// AliyunCASClusterIssuer, hands them to a signer, persists the order state on
// the request, and keeps the issuers' Ready condition honest.
package controllers

import (
	"context"
	"errors"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/manager"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Options configures the controllers. Zero values take the defaults below.
type Options struct {
	// ClusterResourceNamespace holds the Secrets of cluster issuers.
	ClusterResourceNamespace string
	// MaxConcurrentReconciles per controller.
	MaxConcurrentReconciles int
	// HealthCheckInterval is how often an issuer's credentials are checked
	// with a real API call.
	HealthCheckInterval time.Duration

	// IssuerAmbientCredentials lets namespaced AliyunCASIssuers use the
	// controller's own (ambient) credentials; cluster issuers always may.
	IssuerAmbientCredentials bool

	// AllowInsecureEndpoints (--allow-insecure-endpoints) lifts the
	// endpoint rules for test set-ups: plain http endpoints, private
	// addresses for namespaced issuers, and auth.stsEndpoint with ambient
	// credentials on namespaced issuers are then accepted.
	AllowInsecureEndpoints bool

	// DNSNameservers are the name servers the Alidns provider's propagation
	// check queries when an issuer names none ("host" or "host:port");
	// empty means each zone's authoritative name servers.
	DNSNameservers []string

	// NewSigner builds a signer for one issuer configuration; signer.New
	// unless a test wraps it.
	NewSigner func(signer.Config) (signer.Signer, error)

	// MinRetryDelay and MaxRetryDelay bound the backoff after transient
	// errors (per request, and per issuer for health checks).
	MinRetryDelay, MaxRetryDelay time.Duration
	// MaxPollInterval bounds the backoff of polls of a pending order.
	// RateLimit (calls per second) and Burst bound the calls to Alibaba
	// Cloud with one account, shared by the issuers using it, whatever the
	// number of requests; ActionRateLimits add per-action limits to the
	// documented ones. CallTimeout bounds one remote call. Zero values take
	// the signer's defaults.
	MaxPollInterval  time.Duration
	RateLimit        float64
	Burst            int
	ActionRateLimits map[string]float64
	CallTimeout      time.Duration
	// OrderSettleTime is how long after a create whose answer was lost the
	// issuer waits for the order to show in CAS's listings before it may
	// order again; zero takes the signer's default.
	OrderSettleTime time.Duration
	// SignTimeout bounds one Sign, Cancel or Check.
	SignTimeout time.Duration
	// NoCertificateSigningRequests turns the controller of Kubernetes
	// CertificateSigningRequests (certificates.k8s.io/v1) off.
	NoCertificateSigningRequests bool
	// StateKeyNamespace is where the order state key Secret
	// (StateKeySecretName) lives; empty: the controller's own namespace (its
	// pod's, or its ServiceAccount's), else ClusterResourceNamespace.
	StateKeyNamespace string
	// CancelGiveUp is how long a denied, failed or deleted request keeps
	// trying to cancel its remote order after transient errors before its
	// finalizer is removed anyway (with a Warning Event).
	CancelGiveUp time.Duration
	// HandoverWait is how long the open order of a request cert-manager
	// deleted before it finished waits for the request cert-manager creates
	// again for the same Certificate revision and key, before it is
	// cancelled (handover.go).
	HandoverWait time.Duration
	// Sync configures the AliyunCASCertificateSync controller.
	Sync SyncOptions
}

// ReasonAmbientNotAllowed: a namespaced issuer asked for ambient
// credentials without --issuer-ambient-credentials.
const ReasonAmbientNotAllowed = "AmbientNotAllowed"

// Defaults.
const (
	DefaultClusterResourceNamespace = "cert-manager"
	DefaultMaxConcurrentReconciles  = 10
	DefaultHealthCheckInterval      = 10 * time.Minute
	DefaultMinRetryDelay            = time.Second
	DefaultMaxRetryDelay            = 5 * time.Minute
	DefaultSignTimeout              = 2 * time.Minute
	DefaultCancelGiveUp             = 15 * time.Minute
	DefaultHandoverWait             = time.Minute
)

func (o Options) withDefaults() Options {
	if o.ClusterResourceNamespace == "" {
		o.ClusterResourceNamespace = DefaultClusterResourceNamespace
	}
	if o.MaxConcurrentReconciles <= 0 {
		o.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if o.HealthCheckInterval <= 0 {
		o.HealthCheckInterval = DefaultHealthCheckInterval
	}
	if o.NewSigner == nil {
		o.NewSigner = signer.New
	}
	if o.MinRetryDelay <= 0 {
		o.MinRetryDelay = DefaultMinRetryDelay
	}
	if o.MaxRetryDelay <= 0 {
		o.MaxRetryDelay = DefaultMaxRetryDelay
	}
	if o.MaxRetryDelay < o.MinRetryDelay {
		o.MaxRetryDelay = o.MinRetryDelay
	}
	if o.SignTimeout <= 0 {
		o.SignTimeout = DefaultSignTimeout
	}
	if o.CancelGiveUp <= 0 {
		o.CancelGiveUp = DefaultCancelGiveUp
	}
	if o.HandoverWait <= 0 {
		o.HandoverWait = DefaultHandoverWait
	}
	return o
}

// Setup registers the indexes and controllers with mgr: one reconciler per
// issuer kind and the CertificateRequest reconciler, sharing one cache of
// signers so that each issuer's rate limit holds across requests.
func Setup(mgr manager.Manager, opts Options) error {
	if mgr == nil {
		return errors.New("controllers: nil manager")
	}
	opts = opts.withDefaults()
	if err := setupIndexes(mgr); err != nil {
		return err
	}
	// The order state key is loaded before any controller starts: without
	// it no state could be trusted.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ns := opts.StateKeyNamespace
	if ns == "" {
		ns = ownNamespace(ctx, mgr.GetClient())
	}
	if ns == "" {
		ns = opts.ClusterResourceNamespace
	}
	key, err := loadStateKey(ctx, mgr.GetAPIReader(), mgr.GetClient(), ns)
	if err != nil {
		return err
	}
	signers := newSignerSource(mgr.GetClient(), mgr.GetAPIReader(), opts)
	recorder := mgr.GetEventRecorder(eventSource)
	desk := &handoverDesk{}

	for _, kind := range []string{issuerKind, clusterIssuerKind} {
		r := &IssuerReconciler{
			Kind:     kind,
			Client:   mgr.GetClient(),
			Recorder: recorder,
			signers:  signers,
			opts:     opts,
		}
		if err := r.SetupWithManager(mgr); err != nil {
			return err
		}
		h := &handoverReconciler{kind: kind, client: mgr.GetClient(), reader: mgr.GetAPIReader(), recorder: recorder,
			key: key, signers: signers, opts: opts, desk: desk}
		if err := h.setupWithManager(mgr); err != nil {
			return err
		}
	}
	if err := setupSync(mgr, opts, signers); err != nil {
		return err
	}
	deps := requestDeps{Client: mgr.GetClient(), APIReader: mgr.GetAPIReader(), Recorder: recorder, key: key, signers: signers, opts: opts}
	cr := &CertificateRequestReconciler{requestDeps: deps, desk: desk}
	if err := cr.SetupWithManager(mgr); err != nil {
		return err
	}
	if opts.NoCertificateSigningRequests {
		return nil
	}
	csr := &CertificateSigningRequestReconciler{requestDeps: deps}
	return csr.SetupWithManager(mgr)
}
