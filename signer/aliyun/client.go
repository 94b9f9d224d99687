// Package aliyun is the Alibaba Cloud RPC client the issuer uses: the
// official SDK signs and sends every request; this package adds explicit
// endpoints, per-call timeouts, a per-issuer rate limit, retries for reads
// only, throttling back-off, error classification, and typed helpers for
// the CAS, Alidns and STS actions the order flows need.
package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkcredentials "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"golang.org/x/time/rate"
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
	// RateLimit (calls per second) and Burst bound all calls of this client,
	// retries included.
	RateLimit float64
	Burst     int
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
	// http.DefaultTransport.
	Transport http.RoundTripper
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

// Client calls Alibaba Cloud RPC APIs for one issuer. It is safe for
// concurrent use; its rate limit and throttle back-off are shared by all
// calls made through it.
type Client struct {
	opts      Options
	endpoints map[string]endpoint
	region    string
	creds     sdkcredentials.CredentialsProvider
	transport http.RoundTripper
	limiter   *rate.Limiter

	mu         sync.Mutex
	pauseUntil time.Time
	throttles  int // consecutive throttled answers

	// test hooks
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

// New builds a client. Errors are configuration errors (bad endpoint,
// incomplete credentials).
func New(opts Options) (*Client, error) {
	if opts.Endpoint == "" {
		opts.Endpoint = DefaultEndpoint
	}
	if opts.DNSEndpoint == "" {
		opts.DNSEndpoint = DefaultDNSEndpoint
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.RateLimit <= 0 {
		opts.RateLimit = DefaultRateLimit
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultBurst
	}
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = DefaultMaxAttempts
	}
	if opts.RetryBase <= 0 {
		opts.RetryBase = 500 * time.Millisecond
	}
	if opts.MaxRetryDelay <= 0 {
		opts.MaxRetryDelay = 8 * time.Second
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = 5 * time.Second
	}
	if opts.Transport == nil {
		opts.Transport = http.DefaultTransport.(*http.Transport).Clone()
	}
	cas, err := parseEndpoint(opts.Endpoint)
	if err != nil {
		return nil, err
	}
	dns, err := parseEndpoint(opts.DNSEndpoint)
	if err != nil {
		return nil, fmt.Errorf("DNS endpoint: %w", err)
	}
	stsURL := opts.Credentials.STSEndpoint
	if stsURL == "" {
		stsURL = DefaultSTSEndpoint
	}
	sts, err := parseEndpoint(stsURL)
	if err != nil {
		return nil, fmt.Errorf("STS endpoint: %w", err)
	}
	region := opts.RegionID
	if region == "" {
		region = DefaultRegion
		if m := regionHost.FindStringSubmatch(strings.ToLower(cas.host)); m != nil {
			region = m[1]
		}
	}
	c := &Client{
		opts:      opts,
		endpoints: map[string]endpoint{CAS.Product: cas, Alidns.Product: dns, STS.Product: sts},
		region:    region,
		transport: opts.Transport,
		limiter:   rate.NewLimiter(rate.Limit(opts.RateLimit), opts.Burst),
		now:       time.Now,
		sleep:     sleepCtx,
	}
	base, err := baseProvider(opts.Credentials, &sts, opts.Timeout, opts.Transport)
	if err != nil {
		return nil, err
	}
	c.creds = NewSDKProvider(base)
	if opts.Credentials.RoleARN != "" {
		// AssumeRole through a client of its own that signs with the base
		// credential, so STS calls do not eat this issuer's CAS budget.
		stsOpts := opts
		stsOpts.Credentials = Credentials{}
		stsClient := &Client{
			opts:      stsOpts,
			endpoints: c.endpoints,
			region:    region,
			transport: opts.Transport,
			limiter:   rate.NewLimiter(rate.Limit(opts.RateLimit), opts.Burst),
			creds:     c.creds,
			now:       time.Now,
			sleep:     sleepCtx,
		}
		c.creds = NewSDKProvider(&assumeRoleProvider{
			sts:     stsClient,
			roleARN: opts.Credentials.RoleARN,
			session: "aliyun-cas-issuer",
			timeout: opts.Timeout,
		})
	}
	return c, nil
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// IsIdempotent reports whether an action only reads, so that repeating it
// is harmless. Only such actions are retried.
func IsIdempotent(action string) bool {
	for _, p := range []string{"Describe", "List", "Get", "Query"} {
		if strings.HasPrefix(action, p) {
			return true
		}
	}
	return false
}

// Call sends one RPC action and decodes the JSON answer into out (which may
// be nil). Read actions (Describe*, List*, Get*, Query*) are retried on
// transient failures with jittered exponential back-off; any other action
// is sent at most once, whatever happens: a create whose answer was lost
// comes back as an *Error with OutcomeUnknown set.
func (c *Client) Call(ctx context.Context, api API, action string, params map[string]string, out any) error {
	attempts := 1
	if IsIdempotent(action) {
		attempts = c.opts.MaxAttempts
	}
	for attempt := 1; ; attempt++ {
		body, err := c.attempt(ctx, api, action, params, attempt)
		if err == nil {
			if out == nil || len(body) == 0 {
				return nil
			}
			if derr := json.Unmarshal(body, out); derr != nil {
				return &Error{
					Product: api.Product, Action: action, Code: "BadResponse",
					Message:        "unreadable answer: " + derr.Error(),
					Class:          Issuer,
					Reason:         ReasonBadEndpoint,
					OutcomeUnknown: !IsIdempotent(action),
					Err:            derr,
				}
			}
			return nil
		}
		if err.Class != Transient || attempt >= attempts || ctx.Err() != nil {
			return err
		}
		delay := c.backoff(attempt)
		if err.RetryAfter > delay {
			delay = err.RetryAfter
		}
		if delay > c.opts.MaxWait {
			if err.RetryAfter < delay {
				err.RetryAfter = delay
			}
			return err
		}
		if dl, ok := ctx.Deadline(); ok && c.now().Add(delay).After(dl) {
			return err
		}
		if c.sleep(ctx, delay) != nil {
			return err
		}
	}
}

// backoff is the delay before attempt+1: RetryBase·2^(attempt-1), capped,
// with full jitter on its upper half.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.RetryBase << (attempt - 1)
	if d <= 0 || d > c.opts.MaxRetryDelay {
		d = c.opts.MaxRetryDelay
	}
	return d/2 + rand.N(d/2+1)
}

// throttlePause is how long all calls pause after the n-th consecutive
// throttled answer: 1s, 2s, 4s ... up to a minute, jittered.
func throttlePause(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 7 {
		n = 7
	}
	d := time.Second << (n - 1)
	if d > time.Minute {
		d = time.Minute
	}
	return d + rand.N(d/4+1)
}

// paused returns how long calls must still wait after throttling.
func (c *Client) paused() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pauseUntil.Sub(c.now())
}

// noteThrottled reacts to a throttled answer. The client's own rate is
// halved (per throttled answer) with a burst of one, so that waiting calls
// do not come back as a herd; and all calls pause, 1s, 2s, 4s ... for
// consecutive throttling. Answers to calls that were in flight when the
// pause began do not lengthen it.
func (c *Client) noteThrottled() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.limiter.SetLimitAt(now, max(c.limiter.Limit()/2, minRate))
	c.limiter.SetBurstAt(now, 1)
	if now.Before(c.pauseUntil) {
		return c.pauseUntil.Sub(now)
	}
	c.throttles++
	c.pauseUntil = now.Add(throttlePause(c.throttles))
	return c.pauseUntil.Sub(now)
}

// minRate is the slowest the client goes after repeated throttling.
const minRate = rate.Limit(0.2)

// noteAnswered ends a throttling streak and lets the rate climb back
// towards the configured one by a tenth per answer; the burst returns with
// the full rate.
func (c *Client) noteAnswered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttles = 0
	full := rate.Limit(c.opts.RateLimit)
	if l := c.limiter.Limit(); l < full {
		l = min(full, l*1.1+0.05)
		now := c.now()
		c.limiter.SetLimitAt(now, l)
		if l == full {
			c.limiter.SetBurstAt(now, c.opts.Burst)
		}
	}
}

func (c *Client) report(api API, action, outcome string, attempt int, start time.Time) {
	if c.opts.OnCall != nil {
		c.opts.OnCall(CallInfo{Product: api.Product, Version: api.Version, Action: action, Outcome: outcome, Attempt: attempt, Duration: time.Since(start)})
	}
}

// attempt makes one request (after the throttle pause and rate limit).
func (c *Client) attempt(ctx context.Context, api API, action string, params map[string]string, n int) ([]byte, *Error) {
	start := time.Now()
	ep, ok := c.endpoints[api.Product]
	if !ok {
		return nil, &Error{Product: api.Product, Action: action, Code: "UnknownProduct", Message: "no endpoint for product " + api.Product, Class: Issuer, Reason: ReasonMisconfigured}
	}
	if wait := c.paused(); wait > 0 {
		if wait > c.opts.MaxWait {
			c.report(api, action, OutcomeThrottled, n, start)
			return nil, &Error{
				Product: api.Product, Action: action, Code: "Throttling.Client",
				Message: fmt.Sprintf("calls paused for %s after throttling", wait.Round(time.Second)),
				Class:   Transient, Reason: ReasonThrottled, Throttled: true, RetryAfter: wait,
			}
		}
		if err := c.sleep(ctx, wait); err != nil {
			return nil, canceled(api, action, err)
		}
	}
	if err := c.limiter.Wait(ctx); err != nil {
		// Waiting would outlast the caller's deadline.
		c.report(api, action, OutcomeThrottled, n, start)
		return nil, &Error{
			Product: api.Product, Action: action, Code: "Throttling.Client",
			Message: "client-side rate limit: " + err.Error(),
			Class:   Transient, Reason: ReasonThrottled, Throttled: true,
			RetryAfter: time.Second,
		}
	}

	callCtx, cancel := context.WithTimeout(ctx, c.opts.Timeout)
	defer cancel()

	req := requests.NewCommonRequest()
	req.Method = requests.POST
	req.Scheme = ep.scheme
	req.Domain = ep.host
	req.Product = api.Product
	req.Version = api.Version
	req.ApiName = action
	req.ReadTimeout = c.opts.Timeout
	req.ConnectTimeout = min(c.opts.Timeout, 10*time.Second)
	for k, v := range params {
		req.FormParams[k] = v
	}

	// One SDK client per call: the SDK writes per-request timeouts into its
	// client and takes no context; a fresh client carries this call's
	// context in its transport. Credentials and connections are shared.
	cfg := sdk.NewConfig().WithAutoRetry(false).WithMaxRetryTime(0).WithScheme(strings.ToUpper(ep.scheme)).WithTimeout(c.opts.Timeout)
	cfg.Transport = &ctxTransport{ctx: callCtx, base: c.transport}
	sc, err := sdk.NewClientWithOptions(c.region, cfg, c.creds)
	if err != nil {
		return nil, &Error{Product: api.Product, Action: action, Code: "ClientInit", Message: err.Error(), Class: Issuer, Reason: ReasonMisconfigured, Err: err}
	}
	resp, err := sc.ProcessCommonRequest(req)
	if err != nil {
		e := fromSDK(api.Product, action, err, ctx)
		if e.Throttled {
			if p := c.noteThrottled(); p > e.RetryAfter {
				e.RetryAfter = p
			}
			c.report(api, action, OutcomeThrottled, n, start)
		} else {
			if e.HTTPStatus != 0 {
				c.noteAnswered()
			}
			c.report(api, action, e.Code, n, start)
		}
		return nil, e
	}
	c.noteAnswered()
	c.report(api, action, OutcomeOK, n, start)
	return resp.GetHttpContentBytes(), nil
}

func canceled(api API, action string, err error) *Error {
	return &Error{Product: api.Product, Action: action, Code: "Canceled", Message: err.Error(), Class: Transient, Reason: ReasonTimeout, Err: err}
}

// ctxTransport binds a request to the call's context (the SDK takes none).
type ctxTransport struct {
	ctx  context.Context
	base http.RoundTripper
}

func (t *ctxTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return t.base.RoundTrip(r.WithContext(t.ctx))
}

// errNoAnswer is returned by typed helpers when a success lacks a field the
// caller needs.
var errNoAnswer = errors.New("the answer lacks an expected field")

// missingField reports a success that lacks a field the caller needs. For an
// action that creates something, the thing may exist.
func missingField(api API, action, requestID, field string) *Error {
	return &Error{Product: api.Product, Action: action, Code: "BadResponse",
		Message: "the answer has no " + field, RequestID: requestID, Class: Transient, Reason: ReasonUnavailable,
		OutcomeUnknown: !IsIdempotent(action), Err: errNoAnswer}
}
