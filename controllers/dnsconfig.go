package controllers

import (
	"context"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// alidnsSpec is the issuer's spec.validation.dns.alidns when provider
// alidns is selected, else nil.
func alidnsSpec(spec *v1alpha1.IssuerSpec) (*v1alpha1.AlidnsDNS, bool) {
	d := spec.Validation.DNS
	if d == nil || d.Provider != v1alpha1.DNSProviderAlidns {
		return nil, false
	}
	if d.Alidns == nil {
		return &v1alpha1.AlidnsDNS{}, true
	}
	return d.Alidns, true
}

// dnsSecretVersion is the resourceVersion of the Secret of
// spec.validation.dns.alidns.auth, if any, so that a change rebuilds the
// signer.
func (s *signerSource) dnsSecretVersion(ctx context.Context, iss v1alpha1.GenericIssuer) (string, error) {
	a, ok := alidnsSpec(iss.GetSpec())
	if !ok || a.Auth == nil || a.Auth.AccessKeySecretRef == nil {
		return "", nil
	}
	ns, name := s.secretNamespace(iss), a.Auth.AccessKeySecretRef.Name
	meta := &metav1.PartialObjectMetadata{}
	meta.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
	err := s.client.Get(ctx, types.NamespacedName{Namespace: ns, Name: name}, meta)
	switch {
	case apierrors.IsNotFound(err):
		return "", secretNotFound(ns, name)
	case err != nil:
		return "", signer.Transient(reasonSecretUnavailable, 0, fmt.Errorf("cannot read Secret %s/%s (may the controller read Secrets in namespace %s?): %w", ns, name, ns, err))
	}
	return "/dns:" + meta.GetResourceVersion(), nil
}

// dnsConfig fills cfg.DNS from spec.validation.dns, reading the Alidns
// credentials when they differ from the issuer's own. Their secret values
// are appended to secrets (scrubbed from messages).
func (s *signerSource) dnsConfig(ctx context.Context, iss v1alpha1.GenericIssuer, cfg *signer.Config, secrets *[]string) error {
	a, ok := alidnsSpec(iss.GetSpec())
	if !ok {
		return nil
	}
	cfg.DNS = signer.DNSConfig{
		Provider:             signer.DNSProviderAlidns,
		Endpoint:             orDefault(a.Endpoint, v1alpha1.DefaultAlidnsEndpoint),
		Zone:                 a.Zone,
		TTL:                  int(a.TTL),
		SkipPropagationCheck: a.PropagationCheck != nil && !*a.PropagationCheck,
		Nameservers:          append([]string(nil), a.Nameservers...),
	}
	if len(cfg.DNS.Nameservers) == 0 {
		cfg.DNS.Nameservers = append([]string(nil), s.opts.DNSNameservers...)
	}
	if a.Auth == nil {
		return nil
	}
	var creds signer.Credentials
	switch {
	case a.Auth.AccessKeySecretRef != nil:
		ref := a.Auth.AccessKeySecretRef
		ns := s.secretNamespace(iss)
		sec := &corev1.Secret{}
		err := s.apiReader.Get(ctx, types.NamespacedName{Namespace: ns, Name: ref.Name}, sec)
		switch {
		case apierrors.IsNotFound(err):
			return secretNotFound(ns, ref.Name)
		case err != nil:
			return signer.Transient(reasonSecretUnavailable, 0, fmt.Errorf("cannot read Secret %s/%s (may the controller read Secrets in namespace %s?): %w", ns, ref.Name, ns, err))
		}
		if creds.AccessKeyID, err = secretValue(sec, orDefault(ref.AccessKeyIDKey, v1alpha1.DefaultAccessKeyIDKey)); err != nil {
			return err
		}
		if creds.AccessKeySecret, err = secretValue(sec, orDefault(ref.AccessKeySecretKey, v1alpha1.DefaultAccessKeyKey)); err != nil {
			return err
		}
		*secrets = append(*secrets, creds.AccessKeySecret)
		if ref.SecurityTokenKey != "" {
			if creds.SecurityToken, err = secretValue(sec, ref.SecurityTokenKey); err != nil {
				return err
			}
			*secrets = append(*secrets, creds.SecurityToken)
		}
	case a.Auth.Ambient != nil:
		if !iss.IsClusterScoped() && !s.opts.IssuerAmbientCredentials {
			return signer.Issuer(ReasonAmbientNotAllowed, fmt.Errorf(
				"namespaced %s may not use ambient credentials for Alidns (the controller's own RAM identity): use accessKeySecretRef, or start the controller with --issuer-ambient-credentials", iss.KindName()))
		}
		creds.Ambient = true
	default:
		return signer.Issuer(v1alpha1.ReasonInvalidConfig, fmt.Errorf("spec.validation.dns.alidns.auth must set accessKeySecretRef or ambient"))
	}
	creds.RoleARN = a.Auth.RoleARN
	creds.STSEndpoint = a.Auth.STSEndpoint
	cfg.DNS.Credentials = &creds
	return nil
}
