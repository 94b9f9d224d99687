package controllers

import (
	"context"

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
		Endpoint:             a.Endpoint,
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
	creds, more, err := s.credentials(ctx, iss, a.Auth, "spec.validation.dns.alidns.auth")
	if err != nil {
		return err
	}
	*secrets = append(*secrets, more...)
	cfg.DNS.Credentials = &creds
	return nil
}
