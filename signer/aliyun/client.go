// Package aliyun is the Alibaba Cloud RPC client the issuer uses: the
// official SDK signs and sends every request; this package adds explicit
// endpoints, per-call timeouts, a rate limit per account and endpoint that
// learns the account's real limit from throttled answers, retries for reads
// (and for throttled answers, which nothing executed), error classification,
// and typed helpers for the CAS, Alidns and STS actions the order flows need.
package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	sdkcredentials "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// Client calls Alibaba Cloud RPC APIs for one issuer. It is safe for
// concurrent use; its calls to each endpoint are paced by that account's
// limiter (shared with the other clients of the same Options.Limits).
type Client struct {
	opts      Options
	endpoints map[string]endpoint
	region    string
	creds     sdkcredentials.CredentialsProvider
	transport http.RoundTripper
	limiters  map[string]*limiter // by product

	// test hooks (retry delays; the limiters have their own clock)
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
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = nil // the endpoint policy dials, checking addresses
		opts.Transport = t
	}
	if err := checkEndpoints(opts); err != nil {
		return nil, err
	}
	opts.Transport = opts.Endpoints.Transport(opts.Transport, "Alibaba Cloud API")
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
	endpoints := map[string]endpoint{CAS.Product: cas, Alidns.Product: dns, STS.Product: sts}
	c := &Client{
		opts:      opts,
		endpoints: endpoints,
		region:    region,
		transport: opts.Transport,
		limiters:  limitersFor(endpoints, opts),
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
		base := opts
		base.Credentials.RoleARN = "" // paced as the base credential
		stsClient := &Client{
			opts:      stsOpts,
			endpoints: c.endpoints,
			region:    region,
			transport: opts.Transport,
			limiters:  limitersFor(c.endpoints, base),
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

// limitersFor returns the limiters of one credential at the endpoints: the
// shared ones of opts.Limits, or limiters of this client alone.
func limitersFor(endpoints map[string]endpoint, opts Options) map[string]*limiter {
	m := make(map[string]*limiter, len(endpoints))
	for product, ep := range endpoints {
		key, account := limiterKey(ep, opts)
		mk := func() *limiter { return newLimiter(product, account, opts, realClock) }
		if opts.Limits != nil {
			m[product] = opts.Limits.get(product+"|"+key, mk)
		} else {
			m[product] = mk()
		}
	}
	return m
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
// is sent again only after a throttled answer (flow control refuses a call
// before it runs), never after any other failure: a create whose answer
// was lost comes back as an *Error with OutcomeUnknown set.
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
					Message:        "the answer is not the expected JSON: " + bodySummary(string(body)),
					Class:          Issuer,
					Reason:         ReasonBadEndpoint,
					OutcomeUnknown: !IsIdempotent(action),
					Err:            derr,
				}
			}
			return nil
		}
		if err.Code == codeClientThrottled {
			// The limiter's queue is longer than a call waits in place.
			return err
		}
		// A throttled answer executed nothing, whatever the action: it is
		// tried again, after the limiter's pause, like a read.
		retryable := attempts > 1 || (err.Throttled && !err.OutcomeUnknown)
		if err.Class != Transient || !retryable || attempt >= c.opts.MaxAttempts || ctx.Err() != nil {
			if err.Throttled {
				// At least the limiter's pause: the caller comes back
				// when the account has room.
				err.RetryAfter = max(err.RetryAfter, cutPause)
			}
			return err
		}
		delay := c.backoff(attempt)
		if err.Throttled {
			delay = 0 // the limiter spaces the next attempt
		}
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

func (c *Client) report(api API, action, outcome string, attempt int, start time.Time) {
	if c.opts.OnCall != nil {
		c.opts.OnCall(CallInfo{Product: api.Product, Version: api.Version, Action: action, Outcome: outcome, Attempt: attempt, Duration: time.Since(start)})
	}
}

// attempt makes one request, when the account's limiter allows.
func (c *Client) attempt(ctx context.Context, api API, action string, params map[string]string, n int) ([]byte, *Error) {
	start := time.Now()
	ep, ok := c.endpoints[api.Product]
	if !ok {
		return nil, &Error{Product: api.Product, Action: action, Code: "UnknownProduct", Message: "no endpoint for product " + api.Product, Class: Issuer, Reason: ReasonMisconfigured}
	}
	lim := c.limiters[api.Product]
	tk, wait, werr := lim.wait(ctx, action, c.opts.MaxWait)
	if werr != nil {
		return nil, canceled(api, action, werr)
	}
	if wait > 0 {
		// The next slot is further away than a call may wait in place (or
		// past the caller's deadline): nothing was sent.
		c.report(api, action, OutcomeThrottled, n, start)
		return nil, &Error{
			Product: api.Product, Action: action, Code: codeClientThrottled,
			Message: fmt.Sprintf("client-side rate limit: the next call to %s may start in %s", action, wait.Round(100*time.Millisecond)),
			Class:   Transient, Reason: ReasonThrottled, Throttled: true,
			RetryAfter: max(wait, time.Second),
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
		e.explainLegacy(api)
		if e.Throttled {
			lim.answered(tk, true)
			c.report(api, action, OutcomeThrottled, n, start)
		} else {
			if e.HTTPStatus != 0 {
				lim.answered(tk, false)
			}
			c.report(api, action, e.Code, n, start)
		}
		return nil, e
	}
	lim.answered(tk, false)
	c.report(api, action, OutcomeOK, n, start)
	return resp.GetHttpContentBytes(), nil
}

// codeClientThrottled is the code of a call the limiter did not send.
const codeClientThrottled = "Throttling.Client"

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
