package signer

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// ReasonInvalidConfig is the IssuerError reason of a configuration New
// cannot use.
const ReasonInvalidConfig = "InvalidConfig"

// New builds the Signer for one issuer configuration, choosing the flow by
// OrderAPI, after applying the defaults (Config.WithDefaults). Its remote
// calls share one client, so the rate limit and throttle back-off hold per
// Signer: keep one Signer per issuer. Configuration errors are
// *IssuerError.
func New(cfg Config) (Signer, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.validate(); err != nil {
		return nil, Issuer(ReasonInvalidConfig, err)
	}
	client, err := aliyun.New(cfg.clientOptions())
	if err != nil {
		return nil, configError(err)
	}
	dns, err := newDNSProvider(cfg, client)
	if err != nil {
		return nil, configError(err)
	}
	base := newFlow(cfg, client, dns)
	switch cfg.OrderAPI {
	case OrderAPIDVOrder:
		return newDVOrderSigner(base), nil
	case OrderAPIInstance:
		return newInstanceSigner(base), nil
	default:
		return newCSRSigner(base), nil
	}
}

// configError is the IssuerError of a configuration the client refused:
// with the client's own reason (InsecureEndpoint, PrivateEndpoint, ...)
// when it gave one.
func configError(err error) error {
	if e, ok := aliyun.AsError(err); ok && e.Reason != "" {
		return Issuer(e.Reason, err)
	}
	return Issuer(ReasonInvalidConfig, err)
}

// clientOptions are the client settings of a configuration (endpoints,
// credentials, limits), shared by the order flows and the uploader.
func (c Config) clientOptions() aliyun.Options {
	return aliyun.Options{
		Endpoint:    c.Endpoint,
		Credentials: c.Credentials,
		Timeout:     c.Timeout,
		RateLimit:   c.RateLimit,
		Burst:       c.Burst,
		OnCall:      c.OnCall,
		Transport:   c.Transport,
		DNSEndpoint: c.DNS.Endpoint,
		Endpoints:   c.Endpoints,

		ActionRateLimits: c.ActionRateLimits,
		Limits:           c.RateLimits,
		OnRate:           c.OnRate,
	}
}

func (c Config) validate() error {
	var problems []string
	switch c.OrderAPI {
	case OrderAPICSR, OrderAPIDVOrder, OrderAPIInstance:
	default:
		problems = append(problems, fmt.Sprintf("unknown order API %q (want %s, %s or %s)", c.OrderAPI, OrderAPIInstance, OrderAPICSR, OrderAPIDVOrder))
	}
	switch c.ValidationMethod {
	case "DNS", "FILE":
	default:
		problems = append(problems, fmt.Sprintf("unknown validation method %q (want DNS or FILE)", c.ValidationMethod))
	}
	if c.Contact.Username == "" || c.Contact.Email == "" || c.Contact.Phone == "" {
		problems = append(problems, "CAS needs a contact username, email and phone for every order")
	}
	if c.OrderAPI == OrderAPIDVOrder && (c.Contact.Province == "" || c.Contact.City == "") {
		problems = append(problems, "orderAPI DVOrder needs a contact province and city")
	}
	if err := c.Credentials.Validate(); err != nil {
		problems = append(problems, err.Error())
	}
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// newDNSProvider builds the Alidns provider of a configuration, or nil for
// manual validation. With credentials of its own it gets its own client
// (and rate limit); otherwise it shares the issuer's client, whose Alidns
// endpoint is cfg.DNS.Endpoint.
func newDNSProvider(cfg Config, client *aliyun.Client) (*alidnsProvider, error) {
	switch strings.ToLower(cfg.DNS.Provider) {
	case "", DNSProviderManual:
		return nil, nil
	case DNSProviderAlidns:
	default:
		return nil, fmt.Errorf("unknown DNS validation provider %q (want %s or %s)", cfg.DNS.Provider, DNSProviderManual, DNSProviderAlidns)
	}
	if cfg.DNS.Credentials != nil {
		if err := cfg.DNS.Credentials.Validate(); err != nil {
			return nil, fmt.Errorf("the Alidns credentials: %w", err)
		}
		o := cfg.clientOptions()
		o.Credentials = *cfg.DNS.Credentials
		c, err := aliyun.New(o)
		if err != nil {
			return nil, fmt.Errorf("the Alidns client: %w", err)
		}
		client = c
	}
	return newAlidnsProvider(cfg.DNS, client), nil
}
