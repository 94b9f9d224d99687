package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// reasonSecretUnavailable: the Secret could not be read (transient).
const reasonSecretUnavailable = "SecretUnavailable"

// signerSource hands out one Signer per issuer configuration. A Signer is
// rebuilt only when the issuer (UID, generation) or its Secret
// (resourceVersion) changes, so that all requests of an issuer share its rate
// limiter and backoff.
type signerSource struct {
	client    client.Client // cached: Secret metadata
	apiReader client.Reader // uncached: Secret data is never cached
	opts      Options
	// limits are the accounts' rate limiters, shared by their issuers.
	limits *signer.RateLimits

	mu      sync.Mutex
	entries map[string]*signerEntry // by issuerKey
}

type signerEntry struct {
	key    string
	signer signer.Signer
	// secrets are the credential values, scrubbed from every message the
	// controllers write.
	secrets []string
	// poll is the issuer's poll interval (the configuration's, defaults
	// applied), for pending outcomes that name no time.
	poll time.Duration
}

func newSignerSource(c client.Client, r client.Reader, opts Options) *signerSource {
	return &signerSource{client: c, apiReader: r, opts: opts, limits: signer.NewRateLimits(), entries: map[string]*signerEntry{}}
}

// secretNamespace is where an issuer's Secret lives.
func (s *signerSource) secretNamespace(iss v1alpha1.GenericIssuer) string {
	if iss.IsClusterScoped() {
		return s.opts.ClusterResourceNamespace
	}
	return iss.GetNamespace()
}

// get returns the Signer for an issuer. Configuration problems (missing
// Secret or key, bad spec) are IssuerErrors; API errors are transient.
func (s *signerSource) get(ctx context.Context, iss v1alpha1.GenericIssuer) (*signerEntry, error) {
	return s.build(ctx, iss, nil)
}

// build returns the Signer for an issuer's configuration, or, with at, for
// that configuration with at's order API and endpoint instead (an order
// placed before the issuer was edited; kept apart from the issuer's own).
func (s *signerSource) build(ctx context.Context, iss v1alpha1.GenericIssuer, at *orderOrigin) (*signerEntry, error) {
	name := issuerKey(iss.KindName(), iss.GetNamespace(), iss.GetName())
	if at != nil {
		name += originSeparator + at.api + originSeparator + at.endpoint
	}
	// The Secrets' resourceVersions tell whether they changed.
	key := fmt.Sprintf("%s/%d", iss.GetUID(), iss.GetGeneration())
	for _, ref := range issuerSecretNames(iss.GetSpec()) {
		rv, err := s.secretVersion(ctx, s.secretNamespace(iss), ref)
		if err != nil {
			return nil, err
		}
		key += "/" + ref + "@" + rv
	}

	s.mu.Lock()
	if e, ok := s.entries[name]; ok && e.key == key {
		s.mu.Unlock()
		return e, nil
	}
	s.mu.Unlock()

	cfg, secrets, err := s.config(ctx, iss)
	if err != nil {
		return nil, err
	}
	if at != nil {
		cfg.OrderAPI, cfg.Endpoint = at.api, at.endpoint
	}
	sg, err := s.opts.NewSigner(cfg)
	if err != nil {
		reason := signer.ReasonInvalidConfig
		if ie, ok := signer.AsIssuer(err); ok && ie.Reason != "" {
			reason = ie.Reason // e.g. InsecureEndpoint, PrivateEndpoint
		}
		return nil, signer.Issuer(reason, fmt.Errorf("invalid issuer configuration: %w", scrubError(err, secrets)))
	}
	e := &signerEntry{key: key, signer: sg, secrets: secrets, poll: cfg.WithDefaults().PollInterval}

	s.mu.Lock()
	defer s.mu.Unlock()
	// Another request may have built the same signer meanwhile: keep one.
	if old, ok := s.entries[name]; ok && old.key == key {
		return old, nil
	}
	s.entries[name] = e
	return e, nil
}

// originSeparator separates an issuer's key from the origin of a signer
// built for an order placed before the issuer was edited.
const originSeparator = "@"

// forget drops the signers of an issuer that no longer exists.
func (s *signerSource) forget(kind, namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := issuerKey(kind, namespace, name)
	for k := range s.entries {
		if k == key || strings.HasPrefix(k, key+originSeparator) {
			delete(s.entries, k)
		}
	}
}

// config turns an issuer and its Secrets into a signer.Config. Unset
// fields stay unset: signer.Config.WithDefaults is the one place defaults
// live.
func (s *signerSource) config(ctx context.Context, iss v1alpha1.GenericIssuer) (signer.Config, []string, error) {
	spec := iss.GetSpec()
	creds, secrets, err := s.credentials(ctx, iss, &spec.Auth, "spec.auth")
	if err != nil {
		return signer.Config{}, nil, err
	}
	cfg := signer.Config{
		Endpoint:    spec.Endpoint,
		Credentials: creds,
		OrderAPI:    string(spec.OrderAPI),
		ProductCode: spec.ProductCode,
		Contact: signer.Contact{
			Username:    spec.Contact.Username,
			Email:       spec.Contact.Email,
			Phone:       spec.Contact.Phone,
			Province:    spec.Contact.Province,
			City:        spec.Contact.City,
			CompanyName: spec.Contact.CompanyName,
		},
		ValidationMethod: string(spec.Validation.Method),
		MaxPollInterval:  s.opts.MaxPollInterval,
		RateLimit:        s.opts.RateLimit,
		Burst:            s.opts.Burst,
		ActionRateLimits: s.opts.ActionRateLimits,
		RateLimits:       s.limits,
		OnRate:           observeRate,
		Timeout:          s.opts.CallTimeout,
		SettleTime:       s.opts.OrderSettleTime,
		OnCall:           observeCall,
		OnOrderCreated:   observeOrderCreated,
		Endpoints: signer.EndpointPolicy{
			AllowInsecure: s.opts.AllowInsecureEndpoints,
			Namespaced:    !iss.IsClusterScoped(),
		},
	}
	if spec.PollInterval != nil {
		cfg.PollInterval = spec.PollInterval.Duration
	}
	if spec.DVOrder != nil {
		cfg.DVOrder = signer.DVOrderConfig{
			InstanceIDs:    append([]string(nil), spec.DVOrder.InstanceIDs...),
			AdoptServerKey: spec.DVOrder.AdoptServerKey,
		}
	}
	if in := spec.Instance; in != nil {
		cfg.Instance = signer.InstanceConfig{
			InstanceIDs: append([]string(nil), in.InstanceIDs...),
			ContactIDs:  append([]int64(nil), in.ContactIDs...),
			AutoReissue: in.AutoReissue,
		}
	}
	if err := s.dnsConfig(ctx, iss, &cfg, &secrets); err != nil {
		return signer.Config{}, nil, err
	}
	return cfg, secrets, nil
}

// credentials reads one v1alpha1.Auth (spec.auth, or the Alidns auth named
// by field): the Secret's values, or the ambient chain where allowed, and
// the role on top. The secret values are returned for scrubbing.
func (s *signerSource) credentials(ctx context.Context, iss v1alpha1.GenericIssuer, auth *v1alpha1.Auth, field string) (signer.Credentials, []string, error) {
	var creds signer.Credentials
	var secrets []string
	switch {
	case auth.AccessKeySecretRef != nil:
		ref := auth.AccessKeySecretRef
		ns := s.secretNamespace(iss)
		sec := &corev1.Secret{}
		if err := s.apiReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, sec); err != nil {
			return creds, nil, secretReadError(ns, ref.Name, err)
		}
		idKey, secretKey := ref.AccessKeyIDKey, ref.AccessKeySecretKey
		if idKey == "" {
			idKey = v1alpha1.DefaultAccessKeyIDKey
		}
		if secretKey == "" {
			secretKey = v1alpha1.DefaultAccessKeyKey
		}
		var err error
		if creds.AccessKeyID, err = secretValue(sec, idKey); err != nil {
			return creds, nil, err
		}
		if creds.AccessKeySecret, err = secretValue(sec, secretKey); err != nil {
			return creds, nil, err
		}
		secrets = append(secrets, creds.AccessKeySecret)
		if ref.SecurityTokenKey != "" {
			if creds.SecurityToken, err = secretValue(sec, ref.SecurityTokenKey); err != nil {
				return creds, nil, err
			}
			secrets = append(secrets, creds.SecurityToken)
		}
	case auth.Ambient != nil:
		// Ambient credentials are the controller's own RAM identity: as in
		// cert-manager, only cluster issuers (made by cluster admins) get
		// them unless the controller is started to allow namespaced ones.
		if !iss.IsClusterScoped() && !s.opts.IssuerAmbientCredentials {
			return creds, nil, signer.Issuer(ReasonAmbientNotAllowed, fmt.Errorf(
				"%s: namespaced %s may not use ambient credentials (the controller's own RAM identity): use accessKeySecretRef, or start the controller with --issuer-ambient-credentials", field, iss.KindName()))
		}
		creds.Ambient = true
	default:
		return creds, nil, signer.Issuer(signer.ReasonInvalidConfig, fmt.Errorf("%s must set accessKeySecretRef or ambient", field))
	}
	creds.RoleARN = auth.RoleARN
	creds.STSEndpoint = auth.STSEndpoint
	return creds, secrets, nil
}

// issuerSecretNames are the Secrets an issuer reads (in its Secret
// namespace): spec.auth's and the Alidns auth's.
func issuerSecretNames(spec *v1alpha1.IssuerSpec) []string {
	var names []string
	if ref := spec.Auth.AccessKeySecretRef; ref != nil && ref.Name != "" {
		names = append(names, ref.Name)
	}
	if a, ok := alidnsSpec(spec); ok && a.Auth != nil && a.Auth.AccessKeySecretRef != nil && a.Auth.AccessKeySecretRef.Name != "" {
		if n := a.Auth.AccessKeySecretRef.Name; len(names) == 0 || names[0] != n {
			names = append(names, n)
		}
	}
	return names
}

// secretVersion is a Secret's resourceVersion, from the metadata cache.
func (s *signerSource) secretVersion(ctx context.Context, namespace, name string) (string, error) {
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	if err := s.client.Get(ctx, types.NamespacedName{Namespace: namespace, Name: name}, meta); err != nil {
		return "", secretReadError(namespace, name, err)
	}
	return meta.GetResourceVersion(), nil
}

// secretReadError classifies a failed Secret read: missing is the issuer's
// configuration, anything else (typically a namespace outside the Secret
// cache and RBAC) is retried.
func secretReadError(namespace, name string, err error) error {
	if apierrors.IsNotFound(err) {
		return signer.Issuer(v1alpha1.ReasonSecretNotFound, fmt.Errorf("secret %s/%s not found", namespace, name))
	}
	return signer.Transient(reasonSecretUnavailable, 0, fmt.Errorf("cannot read Secret %s/%s (may the controller read Secrets in namespace %s?): %w", namespace, name, namespace, err))
}

// secretValue reads one key of a Secret, trimmed of surrounding whitespace
// (files made with an editor end in a newline). The value is never part of
// an error.
func secretValue(sec *corev1.Secret, key string) (string, error) {
	v, ok := sec.Data[key]
	if !ok {
		return "", signer.Issuer(v1alpha1.ReasonSecretKeyMissing, fmt.Errorf("secret %s/%s has no key %q", sec.Namespace, sec.Name, key))
	}
	s := strings.TrimSpace(string(v))
	if s == "" {
		return "", signer.Issuer(v1alpha1.ReasonSecretKeyMissing, fmt.Errorf("secret %s/%s key %q is empty", sec.Namespace, sec.Name, key))
	}
	return s, nil
}
