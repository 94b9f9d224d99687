// Package preflight checks, before an issuer is installed, that an Alibaba Cloud account
// can issue: the AccessKey's signature and the clock, every RAM action the chosen orderAPI
// and validation need, the V1.0 package quota and the V2.0 subscription instances, whether
// the CAS 2018-07-13 API still answers, and the Alidns zones of the names to validate. It
// recommends the orderAPI for the account. It makes read-only calls only (see ram.go for
// how write permissions are checked without writing).
package preflight

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Options say what to check.
type Options struct {
	Endpoint    string // CAS
	DNSEndpoint string // Alidns
	Credentials aliyun.Credentials
	// OrderAPI is Instance, CSR or DVOrder; "" checks the recommended one.
	OrderAPI    string
	ProductCode string
	InstanceIDs []string
	ContactIDs  []int64
	// Alidns checks the Alidns RAM actions and the zones of Names (in Zone when set).
	Alidns bool
	Zone   string
	Names  []string
	// AllowInsecure accepts plain-HTTP and private endpoints (test setups).
	AllowInsecure bool
	Timeout       time.Duration
	Transport     http.RoundTripper
	now           func() time.Time
}

// run is one preflight.
type run struct {
	opts   Options
	client *aliyun.Client
	clock  *dateRecorder
	rep    *Report
}

// Run checks the account and returns the report; the error is for options that cannot be
// used at all (a bad endpoint, no credentials).
func Run(ctx context.Context, o Options) (*Report, error) {
	d := signer.Config{Endpoint: o.Endpoint, ProductCode: o.ProductCode, DNS: signer.DNSConfig{Endpoint: o.DNSEndpoint}}.WithDefaults()
	o.Endpoint, o.ProductCode, o.DNSEndpoint = d.Endpoint, d.ProductCode, d.DNS.Endpoint
	if o.Timeout <= 0 {
		o.Timeout = 15 * time.Second
	}
	if o.now == nil {
		o.now = time.Now
	}
	switch o.OrderAPI {
	case "", signer.OrderAPIInstance, signer.OrderAPICSR, signer.OrderAPIDVOrder:
	default:
		return nil, errors.New("--order-api must be Instance, CSR or DVOrder")
	}
	rec := &dateRecorder{base: o.Transport, now: o.now}
	client, err := aliyun.New(aliyun.Options{
		Endpoint: o.Endpoint, DNSEndpoint: o.DNSEndpoint, Credentials: o.Credentials,
		Timeout: o.Timeout, MaxAttempts: 2, Transport: rec,
		Endpoints: aliyun.EndpointPolicy{AllowInsecure: o.AllowInsecure},
	})
	if err != nil {
		return nil, err
	}
	p := &run{opts: o, client: client, clock: rec, rep: &Report{Endpoint: o.Endpoint, Credentials: describeCredentials(o.Credentials)}}
	p.run(ctx)
	p.rep.finish()
	return p.rep, nil
}

func (p *run) call(ctx context.Context, api aliyun.API, action string, params map[string]string, out any) error {
	return p.client.Call(ctx, api, action, params, out)
}

func (p *run) run(ctx context.Context) {
	if !p.checkAuth(ctx) {
		return
	}
	ent := p.entitlements(ctx)
	rec := ent.recommend()
	p.rep.RecommendedOrderAPI = rec.orderAPI
	p.rep.OrderAPI = p.opts.OrderAPI
	if p.rep.OrderAPI == "" {
		p.rep.OrderAPI = rec.orderAPI
	}
	p.rep.Lines = append(p.rep.Lines, ent.lines(p.rep.OrderAPI)...)
	p.rep.add(rec.line(p.opts.OrderAPI))
	if p.rep.OrderAPI != "" {
		p.checkRAM(ctx, actionsFor(p.rep.OrderAPI, p.opts))
	}
	if p.opts.Alidns {
		p.checkRAM(ctx, alidnsActions())
		p.checkZones(ctx)
	}
}

// dateRecorder keeps the Date header of the last answer, and when it came, to measure the
// clock skew.
type dateRecorder struct {
	base http.RoundTripper
	now  func() time.Time

	mu     sync.Mutex
	server time.Time
	local  time.Time
}

func (d *dateRecorder) RoundTrip(r *http.Request) (*http.Response, error) {
	base := d.base
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = nil // the endpoint policy dials
		base = t
	}
	resp, err := base.RoundTrip(r)
	if err == nil {
		if t, perr := http.ParseTime(resp.Header.Get("Date")); perr == nil {
			d.mu.Lock()
			d.server, d.local = t, d.now()
			d.mu.Unlock()
		}
	}
	return resp, err
}

// skew is server time minus local time at the last answer; ok is false without a Date.
func (d *dateRecorder) skew() (time.Duration, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.server.IsZero() {
		return 0, false
	}
	// Date has a resolution of one second.
	return d.server.Sub(d.local.Truncate(time.Second)), true
}

func describeCredentials(c aliyun.Credentials) string {
	if c.Ambient {
		return "the credentials-go default chain (RRSA, CLI profile, ECS RAM role, ...)" + roleSuffix(c)
	}
	return c.String()
}

func roleSuffix(c aliyun.Credentials) string {
	if c.RoleARN == "" {
		return ""
	}
	return ", assuming " + c.RoleARN
}
