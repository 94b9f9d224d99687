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
	client, err := aliyun.New(aliyun.Options{
		Endpoint:    cfg.Endpoint,
		Credentials: cfg.Credentials,
		Timeout:     cfg.Timeout,
		RateLimit:   cfg.RateLimit,
		Burst:       cfg.Burst,
		OnCall:      cfg.OnCall,
		Transport:   cfg.Transport,
		DNSEndpoint: cfg.DNS.Endpoint,
		Endpoints:   cfg.Endpoints,
	})
	if err != nil {
		return nil, configError(err)
	}
	dns, err := newDNSProvider(cfg, client)
	if err != nil {
		return nil, configError(err)
	}
	switch cfg.OrderAPI {
	case OrderAPIDVOrder:
		s := newDVOrderSigner(cfg, client)
		s.dns = dns
		return s, nil
	default:
		s := newCSRSigner(cfg, client)
		s.dns = dns
		return s, nil
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

func (c Config) validate() error {
	var problems []string
	switch c.OrderAPI {
	case OrderAPICSR, OrderAPIDVOrder:
	default:
		problems = append(problems, fmt.Sprintf("unknown order API %q (want %s or %s)", c.OrderAPI, OrderAPICSR, OrderAPIDVOrder))
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
