package signer

import (
	"net/http"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Order APIs an issuer can use.
const (
	// OrderAPICSR is CAS 2020-04-07 CreateCertificateWithCsrRequest: the key
	// never leaves the cluster.
	OrderAPICSR = "CSR"
	// OrderAPIDVOrder is CAS 2018-07-13 CreateDVOrderAudit on a purchased
	// instance: Alibaba Cloud generates the key.
	OrderAPIDVOrder = "DVOrder"
	// OrderAPIInstance is CAS 2020-04-07 "SSL Certificate Management V2.0":
	// the CSR is written onto a subscription instance (UpdateInstance) and
	// applied for (ApplyCertificate); the key never leaves the cluster.
	OrderAPIInstance = "Instance"
)

// Config is one issuer's configuration in plain Go, built by the controllers
// from an AliyunCASIssuer/AliyunCASClusterIssuer and its Secret.
type Config struct {
	// Endpoint is a URL such as https://cas.aliyuncs.com (scheme and host
	// are used as given; tests use http://127.0.0.1:PORT).
	Endpoint    string
	Credentials Credentials
	// OrderAPI is OrderAPIInstance (the default), OrderAPICSR or OrderAPIDVOrder.
	OrderAPI    string
	ProductCode string
	Contact     Contact
	// ValidationMethod is "DNS" or "FILE".
	ValidationMethod string
	// PollInterval is the longest gap between looks while issuance is likely
	// (poll.go); later looks back off to MaxPollInterval.
	PollInterval    time.Duration
	MaxPollInterval time.Duration
	// RateLimit (requests per second) bounds the calls to one endpoint with
	// this issuer's account, whatever the number of requests; the issuer
	// paces them at the rate it learns from throttled answers, at most
	// this. Burst is the most calls in any one second.
	RateLimit float64
	Burst     int
	// ActionRateLimits add to and override the documented per-action
	// limits (aliyun.ActionRateLimits).
	ActionRateLimits map[string]float64
	// RateLimits, when set, shares the rate limiters between the issuers
	// of one account (keep one per process); nil: this issuer's own.
	RateLimits *RateLimits
	// OnRate, when set, is called when a limiter's pacing rate changes.
	OnRate func(RateInfo)
	// Timeout bounds one remote call.
	Timeout time.Duration
	// SettleTime is how long after a create whose answer was lost the
	// order may take to show in CAS's listings: no second order is placed
	// before it has passed (and at least MinEmptyListings listings found
	// nothing).
	SettleTime time.Duration
	// DVOrder configures the 2018-07-13 flow.
	DVOrder DVOrderConfig
	// Instance configures the V2.0 subscription-instance flow.
	Instance InstanceConfig
	// DNS configures who makes DNS validation records exist (see
	// DNSConfig): a person (manual, the default) or the issuer in Alidns.
	DNS DNSConfig
	// OnCall, when set, is called after every remote call attempt (for
	// metrics such as a Prometheus counter by action and outcome).
	OnCall func(CallInfo)
	// OnOrderCreated, when set, is called with OrderAPI after each create
	// call answered with success: an order placed (quota spent).
	OnOrderCreated func(orderAPI string)
	// Transport, when set, carries the remote calls (tests, proxies).
	Transport http.RoundTripper
	// Endpoints is the policy every endpoint must satisfy (https; for a
	// namespaced issuer no private address and no auth.stsEndpoint with
	// ambient credentials), and the AIA root fetch too.
	Endpoints EndpointPolicy
}

// EndpointPolicy says which endpoints an issuer may use (see
// aliyun.EndpointPolicy).
type EndpointPolicy = aliyun.EndpointPolicy

// Contact is who the CA contacts about an order.
type Contact struct {
	Username, Email, Phone, Province, City, CompanyName string
}

// DVOrderConfig is the 2018-07-13 flow's own configuration.
type DVOrderConfig struct {
	// InstanceIDs to use; empty means any usable purchased DV instance.
	InstanceIDs []string
	// AdoptServerKey lets the issuer write Alibaba's private key into
	// cert-manager's next-private-key Secret.
	AdoptServerKey bool
}

// InstanceConfig is the V2.0 subscription-instance flow's own configuration.
type InstanceConfig struct {
	// InstanceIDs to use; empty means any usable DV instance of the account.
	InstanceIDs []string
	// ContactIDs named on every application; empty means the contact of
	// Config.Contact, found by e-mail with ListContact and created when absent.
	ContactIDs []int64
	// AutoReissue lets Alibaba Cloud renew by itself (AutoReissue=enable).
	AutoReissue bool
}

// Credentials says how to authenticate: a static AccessKey pair (with an
// optional STS token) or the ambient chain, and optionally a role assumed on
// top. Its String, GoString, LogValue and MarshalJSON redact secrets.
type Credentials = aliyun.Credentials

// RateLimits are the rate limiters of Alibaba Cloud accounts, shared by the
// issuers that use the same account (see aliyun.Limits).
type RateLimits = aliyun.Limits

// NewRateLimits returns an empty set of shared rate limiters.
func NewRateLimits() *RateLimits { return aliyun.NewLimits() }

// ParseActionRateLimits reads per-action limits written as
// Action=QPS[,Action=QPS...].
func ParseActionRateLimits(s string) (map[string]float64, error) {
	return aliyun.ParseActionRateLimits(s)
}

// RateInfo is a change of a limiter's pacing rate, for metrics.
type RateInfo = aliyun.RateInfo

// CallInfo describes one remote call attempt (action and outcome: "ok",
// "throttled" or the error code), for metrics.
type CallInfo = aliyun.CallInfo

// Defaults applied by New (see Config.WithDefaults). The API's
// +kubebuilder:default markers repeat some of them for kubectl users; a
// test holds them equal.
const (
	DefaultEndpoint         = aliyun.DefaultEndpoint
	DefaultOrderAPI         = OrderAPIInstance
	DefaultProductCode      = "digicert-free-1-free"
	DefaultValidationMethod = "DNS"
	DefaultPollInterval     = 30 * time.Second
	DefaultMaxPollInterval  = 10 * time.Minute
	DefaultRateLimit        = aliyun.DefaultRateLimit
	DefaultBurst            = aliyun.DefaultBurst
	DefaultTimeout          = aliyun.DefaultTimeout
	// DefaultSettleTime: CAS does not publish how fast a new order shows
	// in ListUserCertificateOrder; several minutes is the safe side, as a
	// second order costs quota.
	DefaultSettleTime = 5 * time.Minute
	// MinEmptyListings is how many recovery listings must find nothing
	// before a lost create is ordered again.
	MinEmptyListings   = 2
	DefaultDNSProvider = DNSProviderManual
	DefaultDNSEndpoint = aliyun.DefaultDNSEndpoint
	DefaultDNSTTL      = 600
	// DefaultPropagationTimeout bounds the wait for a DNS record to be
	// visible at the name servers.
	DefaultPropagationTimeout = 10 * time.Minute
)

// WithDefaults returns c with every unset field given its default. It is the
// one place defaults live.
func (c Config) WithDefaults() Config {
	if c.Endpoint == "" {
		c.Endpoint = DefaultEndpoint
	}
	if c.OrderAPI == "" {
		c.OrderAPI = DefaultOrderAPI
	}
	if c.ProductCode == "" {
		c.ProductCode = DefaultProductCode
	}
	if c.ValidationMethod == "" {
		c.ValidationMethod = DefaultValidationMethod
	}
	c.ValidationMethod = strings.ToUpper(c.ValidationMethod)
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.MaxPollInterval <= 0 {
		c.MaxPollInterval = DefaultMaxPollInterval
	}
	if c.MaxPollInterval < c.PollInterval {
		c.MaxPollInterval = c.PollInterval
	}
	if c.RateLimit <= 0 {
		c.RateLimit = DefaultRateLimit
	}
	if c.Burst <= 0 {
		c.Burst = DefaultBurst
	}
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.SettleTime <= 0 {
		c.SettleTime = DefaultSettleTime
	}
	if c.DNS.Provider == "" {
		c.DNS.Provider = DefaultDNSProvider
	}
	if c.DNS.Endpoint == "" {
		c.DNS.Endpoint = DefaultDNSEndpoint
	}
	if c.DNS.TTL <= 0 {
		c.DNS.TTL = DefaultDNSTTL
	}
	if c.DNS.PropagationTimeout <= 0 {
		c.DNS.PropagationTimeout = DefaultPropagationTimeout
	}
	return c
}
