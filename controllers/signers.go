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

// defaultPollInterval matches the API default of spec.pollInterval.
const defaultPollInterval = 30 * time.Second

// signerSource hands out one Signer per issuer configuration. A Signer is
// rebuilt only when the issuer (UID, generation) or its Secret
// (resourceVersion) changes, so that all requests of an issuer share its rate
// limiter and backoff.
type signerSource struct {
	client    client.Client // cached: Secret metadata
	apiReader client.Reader // uncached: Secret data is never cached
	opts      Options

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
	return &signerSource{client: c, apiReader: r, opts: opts, entries: map[string]*signerEntry{}}
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
	name := issuerKey(iss.KindName(), iss.GetNamespace(), iss.GetName())
	spec := iss.GetSpec()
	secretRV := ""
	if ref := spec.Auth.AccessKeySecretRef; ref != nil {
		// The metadata cache is enough to tell whether the Secret changed.
		meta := &metav1.PartialObjectMetadata{}
		meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		err := s.client.Get(ctx, types.NamespacedName{Namespace: s.secretNamespace(iss), Name: ref.Name}, meta)
		switch {
		case apierrors.IsNotFound(err):
			return nil, secretNotFound(s.secretNamespace(iss), ref.Name)
		case err != nil:
			// Typically a namespace outside the Secret cache (and RBAC).
			return nil, signer.Transient(reasonSecretUnavailable, 0, fmt.Errorf("cannot read Secret %s/%s (may the controller read Secrets in namespace %s?): %w",
				s.secretNamespace(iss), ref.Name, s.secretNamespace(iss), err))
		}
		secretRV = meta.GetResourceVersion()
	}
	dnsRV, err := s.dnsSecretVersion(ctx, iss)
	if err != nil {
		return nil, err
	}
	key := fmt.Sprintf("%s/%d/%s%s", iss.GetUID(), iss.GetGeneration(), secretRV, dnsRV)

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
	sg, err := s.opts.NewSigner(cfg)
	if err != nil {
		return nil, signer.Issuer(v1alpha1.ReasonInvalidConfig, fmt.Errorf("invalid issuer configuration: %w", scrubError(err, secrets)))
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

// forget drops the signer of an issuer that no longer exists.
func (s *signerSource) forget(kind, namespace, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.entries, issuerKey(kind, namespace, name))
}

// config turns an issuer and its Secret into a signer.Config.
func (s *signerSource) config(ctx context.Context, iss v1alpha1.GenericIssuer) (signer.Config, []string, error) {
	spec := iss.GetSpec()
	var creds signer.Credentials
	var secrets []string
	switch {
	case spec.Auth.AccessKeySecretRef != nil:
		ref := spec.Auth.AccessKeySecretRef
		ns := s.secretNamespace(iss)
		sec := &corev1.Secret{}
		err := s.apiReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, sec)
		switch {
		case apierrors.IsNotFound(err):
			return signer.Config{}, nil, secretNotFound(ns, ref.Name)
		case err != nil:
			return signer.Config{}, nil, signer.Transient(reasonSecretUnavailable, 0, fmt.Errorf("cannot read Secret %s/%s (may the controller read Secrets in namespace %s?): %w", ns, ref.Name, ns, err))
		}
		idKey := orDefault(ref.AccessKeyIDKey, v1alpha1.DefaultAccessKeyIDKey)
		secretKey := orDefault(ref.AccessKeySecretKey, v1alpha1.DefaultAccessKeyKey)
		if creds.AccessKeyID, err = secretValue(sec, idKey); err != nil {
			return signer.Config{}, nil, err
		}
		if creds.AccessKeySecret, err = secretValue(sec, secretKey); err != nil {
			return signer.Config{}, nil, err
		}
		secrets = append(secrets, creds.AccessKeySecret)
		if ref.SecurityTokenKey != "" {
			if creds.SecurityToken, err = secretValue(sec, ref.SecurityTokenKey); err != nil {
				return signer.Config{}, nil, err
			}
			secrets = append(secrets, creds.SecurityToken)
		}
	case spec.Auth.Ambient != nil:
		// Ambient credentials are the controller's own RAM identity: as in
		// cert-manager, only cluster issuers (made by cluster admins) get
		// them unless the controller is started to allow namespaced ones.
		if !iss.IsClusterScoped() && !s.opts.IssuerAmbientCredentials {
			return signer.Config{}, nil, signer.Issuer(ReasonAmbientNotAllowed, fmt.Errorf(
				"namespaced %s may not use ambient credentials (the controller's own RAM identity): use accessKeySecretRef, or start the controller with --issuer-ambient-credentials", iss.KindName()))
		}
		creds.Ambient = true
	default:
		return signer.Config{}, nil, signer.Issuer(v1alpha1.ReasonInvalidConfig, fmt.Errorf("spec.auth must set accessKeySecretRef or ambient"))
	}
	creds.RoleARN = spec.Auth.RoleARN
	creds.STSEndpoint = spec.Auth.STSEndpoint

	poll := defaultPollInterval
	if spec.PollInterval != nil && spec.PollInterval.Duration > 0 {
		poll = spec.PollInterval.Duration
	}
	validation := string(spec.Validation.Method)
	if validation == "" {
		validation = string(v1alpha1.ValidationMethodDNS)
	}
	cfg := signer.Config{
		Endpoint:    orDefault(spec.Endpoint, v1alpha1.DefaultEndpoint),
		Credentials: creds,
		OrderAPI:    orDefault(string(spec.OrderAPI), string(v1alpha1.DefaultOrderAPI)),
		ProductCode: orDefault(spec.ProductCode, v1alpha1.DefaultProductCode),
		Contact: signer.Contact{
			Username:    spec.Contact.Username,
			Email:       spec.Contact.Email,
			Phone:       spec.Contact.Phone,
			Province:    spec.Contact.Province,
			City:        spec.Contact.City,
			CompanyName: spec.Contact.CompanyName,
		},
		ValidationMethod: validation,
		PollInterval:     poll,
		MaxPollInterval:  s.opts.MaxPollInterval,
		RateLimit:        s.opts.RateLimit,
		Burst:            s.opts.Burst,
		Timeout:          s.opts.CallTimeout,
		OnCall:           observeCall,
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

func secretNotFound(namespace, name string) error {
	return signer.Issuer(v1alpha1.ReasonSecretNotFound, fmt.Errorf("secret %s/%s not found", namespace, name))
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

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
