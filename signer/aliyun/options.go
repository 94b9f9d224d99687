package aliyun

import (
	"fmt"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// API is one versioned Alibaba Cloud RPC API.
type API struct {
	// Product selects the endpoint: "cas", "alidns" or "sts".
	Product string
	Version string
}

// The APIs the issuer speaks.
var (
	// CAS is SSL Certificates Service 2020-04-07 (CSR orders).
	CAS = API{Product: "cas", Version: "2020-04-07"}
	// CASLegacy is SSL Certificates Service 2018-07-13 (DV orders on
	// purchased instances, uploaded certificates).
	CASLegacy = API{Product: "cas", Version: "2018-07-13"}
	// Alidns is Alibaba Cloud DNS 2015-01-09.
	Alidns = API{Product: "alidns", Version: "2015-01-09"}
	// STS is Security Token Service 2015-04-01.
	STS = API{Product: "sts", Version: "2015-04-01"}
)

// Outcomes reported to Options.OnCall besides error codes.
const (
	OutcomeOK        = "ok"
	OutcomeThrottled = "throttled"
)

// CallInfo describes one attempt of one call, for metrics.
type CallInfo struct {
	Product, Version, Action string
	// Outcome is OutcomeOK, OutcomeThrottled, or the error code
	// ("InvalidParameter", "Timeout", "ConnectionRefused", ...).
	Outcome  string
	Attempt  int
	Duration time.Duration
}

// Options configure a Client. Zero values take the defaults above.
type Options struct {
	// Endpoint is the CAS URL, e.g. https://cas.aliyuncs.com. Scheme and host
	// are used as given; the Location service is never consulted.
	Endpoint string
	// DNSEndpoint is the Alidns URL.
	DNSEndpoint string
	Credentials Credentials
	// RegionID is sent as RegionId; derived from the endpoint host
	// (cas.<region>.aliyuncs.com) when empty, else cn-hangzhou.
	RegionID string
	// Timeout bounds one attempt of one call.
	Timeout time.Duration
	// RateLimit (calls per second) bounds the calls of one account to one
	// endpoint, retries included: the limiter paces them evenly at the
	// rate it learned from throttled answers, at most this. Burst is the
	// most calls in any one second (an upper bound too).
	RateLimit float64
	Burst     int
	// ActionRateLimits add to and override the documented per-action
	// limits (ActionRateLimits; calls per second, 0 removes one).
	ActionRateLimits map[string]float64
	// Limits, when set, shares the limiters between the clients of the
	// same account and endpoint (one per process); nil gives this client
	// limiters of its own.
	Limits *Limits
	// OnRate, when set, is called when a limiter's rate changes.
	OnRate func(RateInfo)
	// MaxAttempts bounds the attempts of an idempotent (read) call. Actions
	// that change something are attempted once.
	MaxAttempts int
	// RetryBase and MaxRetryDelay shape the jittered exponential back-off
	// between attempts; defaults 500ms and 8s.
	RetryBase     time.Duration
	MaxRetryDelay time.Duration
	// MaxWait is the longest a call sleeps in place (throttle pause, retry
	// delay) before it gives up with a TransientError carrying RetryAfter;
	// default 5s.
	MaxWait time.Duration
	// OnCall, when set, is called after every attempt.
	OnCall func(CallInfo)
	// Transport carries the requests; default a clone of
	// http.DefaultTransport. Redirects are refused whatever it is.
	Transport http.RoundTripper
	// Endpoints is the policy the endpoints must satisfy.
	Endpoints EndpointPolicy
}

type endpoint struct {
	scheme string // "http" or "https"
	host   string // host[:port]
}

func parseEndpoint(raw string) (endpoint, error) {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return endpoint{}, fmt.Errorf("invalid endpoint %q: %w", raw, err)
	}
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return endpoint{}, fmt.Errorf("invalid endpoint %q: the scheme must be http or https", raw)
	}
	if u.Host == "" || u.Hostname() == "" {
		return endpoint{}, fmt.Errorf("invalid endpoint %q: no host", raw)
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return endpoint{}, fmt.Errorf("invalid endpoint %q: give scheme and host only", raw)
	}
	return endpoint{scheme: scheme, host: u.Host}, nil
}

var regionHost = regexp.MustCompile(`^[a-z0-9-]+\.([a-z]{2}-[a-z0-9-]+)\.aliyuncs\.com$`)
