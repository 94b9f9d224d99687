package signer

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// ReasonInvalidConfig is the IssuerError reason of a configuration New
// cannot use.
const ReasonInvalidConfig = "InvalidConfig"

// ReasonNotImplemented is the PermanentError reason of a flow that is not
// available yet.
const ReasonNotImplemented = "NotImplemented"

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
	})
	if err != nil {
		return nil, Issuer(ReasonInvalidConfig, err)
	}
	switch cfg.OrderAPI {
	case OrderAPIDVOrder:
		return &dvOrderSigner{cfg: cfg, client: client}, nil
	default:
		return newCSRSigner(cfg, client), nil
	}
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

// dvOrderSigner is the CAS 2018-07-13 flow. Ordering is not available yet;
// its health check already reports the usable instances.
type dvOrderSigner struct {
	cfg    Config
	client *aliyun.Client
}

func (s *dvOrderSigner) Sign(context.Context, Request, StateStore) (Result, error) {
	return Result{}, Permanent(ReasonNotImplemented, "orderAPI %s is not implemented yet; use orderAPI %s", OrderAPIDVOrder, OrderAPICSR)
}

func (s *dvOrderSigner) Cancel(context.Context, OrderState) error { return nil }

// Check counts the purchased instances not used yet (first page only).
func (s *dvOrderSigner) Check(ctx context.Context) (Health, error) {
	l, err := s.client.DescribeOrderInstanceList(ctx, 1)
	if err != nil {
		return Health{UsableInstances: -1}, checkError(err, "listing the purchased certificate instances")
	}
	usable := 0
	for _, o := range l.OrderList {
		if strings.EqualFold(o.Status, "PAYED") || strings.EqualFold(o.Status, "Paid") {
			usable++
		}
	}
	return Health{UsableInstances: usable}, nil
}
