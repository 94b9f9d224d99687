package aliyun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"weak"
)

// ActionRateLimits are the per-action limits Alibaba Cloud documents (calls
// per second per account). A call of such an action waits for the action's
// own pacer as well as the account's, and a throttled answer to it is taken
// as that action's limit alone. The other actions' limits are not published
// (aliyun-api notes: "QPS limits for create/describe are not published"):
// their throttled answers teach the account's pacer. Options.ActionRateLimits
// adds to and overrides these.
var ActionRateLimits = map[string]float64{
	// CAS 2020-04-07 API reference, GetTaskAttribute: 10 per second per user.
	"GetTaskAttribute": 10,
	// CAS 2020-04-07 SDK operation descriptions: 100 per second per user.
	"GetUserCertificateDetail": 100,
	"UploadUserCertificate":    100,
	"DeleteUserCertificate":    100,
	// CAS API reference (2020-04-07 package orders): CancelOrderRequest 100,
	// CancelCertificateForPackageRequest and ListUserCertificateOrder 10.
	"CancelOrderRequest":                 100,
	"CancelCertificateForPackageRequest": 10,
	"ListUserCertificateOrder":           10,
}

// ParseActionRateLimits reads per-action limits written as
// Action=QPS[,Action=QPS...] (QPS 0 removes a documented one).
func ParseActionRateLimits(s string) (map[string]float64, error) {
	m := map[string]float64{}
	for item := range strings.SplitSeq(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		action, v, ok := strings.Cut(item, "=")
		qps, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
		action = strings.TrimSpace(action)
		if !ok || action == "" || err != nil || qps < 0 || math.IsInf(qps, 0) || math.IsNaN(qps) {
			return nil, fmt.Errorf("per-action rate limit %q: want Action=QPS with QPS a number of calls per second, 0 or more", item)
		}
		m[action] = qps
	}
	return m, nil
}

// RateInfo is a change of a pacer's rate, for metrics.
type RateInfo struct {
	// Product and Account name the pacer (Account is a short fingerprint
	// of the endpoint and the AccessKey ID or role, never a secret);
	// Action is "" for the account's pacer.
	Product, Account, Action string
	// Rate is the pacing rate now (calls/s); Learned the limit learned
	// from throttled answers, 0 while none was met.
	Rate, Learned float64
}

// Limits hands out the rate limiters of Alibaba Cloud accounts: one per
// account (credential) and endpoint, shared by every client built with the
// same Limits, so that issuers using the same account share its rate.
// The zero value is not usable; use NewLimits.
type Limits struct {
	mu sync.Mutex
	m  map[string]weak.Pointer[limiter]
}

// NewLimits returns an empty set of shared limiters.
func NewLimits() *Limits { return &Limits{m: map[string]weak.Pointer[limiter]{}} }

// get returns the limiter for key, making it with mk when no client holds
// it any more.
func (s *Limits) get(key string, mk func() *limiter) *limiter {
	s.mu.Lock()
	defer s.mu.Unlock()
	if l := s.m[key].Value(); l != nil {
		return l
	}
	for k, p := range s.m {
		if p.Value() == nil {
			delete(s.m, k)
		}
	}
	l := mk()
	s.m[key] = weak.Make(l)
	return l
}

// limiter paces the calls of one account at one endpoint: every call waits
// for the account's pacer, and for its action's pacer when the action has a
// limit of its own.
type limiter struct {
	product, account string
	clock            clock
	onRate           func(RateInfo)

	mu      sync.Mutex
	total   *pacer
	actions map[string]*pacer
}

// clock is the limiter's time; tests replace it.
type clock struct {
	now   func() time.Time
	sleep func(ctx context.Context, d time.Duration) error
}

var realClock = clock{now: time.Now, sleep: sleepCtx}

func newLimiter(product, account string, o Options, c clock) *limiter {
	caps := maps.Clone(ActionRateLimits)
	maps.Copy(caps, o.ActionRateLimits)
	l := &limiter{product: product, account: account, clock: c, onRate: o.OnRate,
		total: newPacer(o.RateLimit, o.Burst), actions: map[string]*pacer{}}
	for a, qps := range caps {
		if qps > 0 {
			l.actions[a] = newPacer(min(qps, o.RateLimit), o.Burst)
		}
	}
	return l
}

// limiterKey names the limiter of one account at one endpoint with the
// given limits. It hashes the secret too, so that a client with someone
// else's AccessKey ID but not its secret never shares (and slows) their
// limiter.
func limiterKey(ep endpoint, o Options) (key, account string) {
	c := o.Credentials
	id := "ambient"
	if c.AccessKeyID != "" {
		id = "key:" + c.AccessKeyID
	}
	if c.RoleARN != "" {
		id += "|role:" + c.RoleARN
	}
	acct := sha256.Sum256([]byte(ep.scheme + "://" + ep.host + "|" + id))
	full := sha256.Sum256([]byte(fmt.Sprintf("%s|%s|%s|%v|%d|%v", acct, c.AccessKeySecret, c.STSEndpoint, o.RateLimit, o.Burst, actionLimitsKey(o.ActionRateLimits))))
	return hex.EncodeToString(full[:]), hex.EncodeToString(acct[:4])
}

func actionLimitsKey(m map[string]float64) string {
	var b strings.Builder
	for _, k := range slices.Sorted(maps.Keys(m)) {
		fmt.Fprintf(&b, "%s=%v,", k, m[k])
	}
	return b.String()
}

// ticket is one reserved call: the epochs of its pacers when it was made.
type ticket struct {
	action            string
	totalEpoch, epoch int
	ownPacer          bool
	// needTotal: the action's own slot came first; the account's slot is
	// reserved when it is reached, so that calls of an action waiting for
	// its own limit hold up no other action.
	needTotal bool
}

// reserve hands the call of action its slot: the earliest both its pacers
// allow, unless that is more than maxWait away: then nothing is reserved
// and at says when it would have been. When the action's own pacer is the
// later one, only its slot is taken; reserveTotal takes the account's at
// that time.
func (l *limiter) reserve(action string, now time.Time, maxWait time.Duration) (at time.Time, tk ticket, ok bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	at = l.total.earliest(now)
	a := l.actions[action]
	var own time.Time
	if a != nil {
		own = a.earliest(now)
		if own.After(at) {
			at = own
		}
	}
	if at.Sub(now) > maxWait {
		return at, ticket{}, false
	}
	tk = ticket{action: action}
	if a != nil {
		a.take(at, now)
		tk.epoch, tk.ownPacer = a.epoch, true
		if own.After(now) && own.Equal(at) {
			tk.needTotal = true
			return at, tk, true
		}
	}
	l.total.take(at, now)
	tk.totalEpoch = l.total.epoch
	return at, tk, true
}

// reserveTotal takes the account's slot of a call whose own slot was
// reached (ticket.needTotal).
func (l *limiter) reserveTotal(tk *ticket, now time.Time) time.Time {
	l.mu.Lock()
	defer l.mu.Unlock()
	at := l.total.earliest(now)
	l.total.take(at, now)
	tk.totalEpoch, tk.needTotal = l.total.epoch, false
	return at
}

// valid tells whether a reservation still holds: a throttled answer since
// it was made cuts the rate and the slot must be made again.
func (l *limiter) valid(tk ticket) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !tk.needTotal && tk.totalEpoch != l.total.epoch {
		return false
	}
	a := l.actions[tk.action]
	return a == nil || tk.epoch == a.epoch
}

// answered records the answer to a reserved call. A throttled answer to an
// action with a limit of its own is that action's limit; any other teaches
// the account's pacer.
func (l *limiter) answered(tk ticket, throttled bool) {
	l.mu.Lock()
	now := l.clock.now()
	a := l.actions[tk.action]
	var changed []RateInfo
	note := func(action string, p *pacer, before float64) {
		if p.rate != before {
			changed = append(changed, RateInfo{Product: l.product, Account: l.account, Action: action, Rate: p.rate, Learned: p.learned})
		}
	}
	totalBefore := l.total.rate
	switch {
	case throttled && a != nil:
		before := a.rate
		a.throttled(tk.epoch, now)
		note(tk.action, a, before)
	case throttled:
		l.total.throttled(tk.totalEpoch, now)
	default:
		l.total.accept(now)
		if a != nil {
			before := a.rate
			a.accept(now)
			note(tk.action, a, before)
		}
	}
	note("", l.total, totalBefore)
	l.mu.Unlock()
	if l.onRate != nil {
		for _, ri := range changed {
			l.onRate(ri)
		}
	}
}

// wait blocks until the call of action may start. It refuses, with the
// time to wait, a slot more than maxWait away or past ctx's deadline.
func (l *limiter) wait(ctx context.Context, action string, maxWait time.Duration) (ticket, time.Duration, error) {
	for {
		now := l.clock.now()
		limit := maxWait
		if dl, ok := ctx.Deadline(); ok && dl.Sub(now) < limit {
			limit = dl.Sub(now)
		}
		at, tk, ok := l.reserve(action, now, limit)
		if !ok {
			return ticket{}, at.Sub(now), nil
		}
		if err := l.clock.sleep(ctx, at.Sub(now)); err != nil {
			return ticket{}, 0, err
		}
		if tk.needTotal && l.valid(tk) {
			now = l.clock.now()
			if err := l.clock.sleep(ctx, l.reserveTotal(&tk, now).Sub(now)); err != nil {
				return ticket{}, 0, err
			}
		}
		if !l.valid(tk) {
			continue
		}
		for {
			now = l.clock.now()
			d := l.admit(tk, now)
			if d <= 0 {
				return tk, 0, nil
			}
			if err := l.clock.sleep(ctx, d); err != nil {
				return ticket{}, 0, err
			}
		}
	}
}

// admit starts a reserved call whose slot has come, or says how long to
// wait first (see pacer.admitAt).
func (l *limiter) admit(tk ticket, now time.Time) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	t := l.total.admitAt(now)
	a := l.actions[tk.action]
	if a != nil {
		if ta := a.admitAt(now); ta.After(t) {
			t = ta
		}
	}
	if t.After(now) {
		return t.Sub(now)
	}
	l.total.started(now)
	if a != nil {
		a.started(now)
	}
	return 0
}

// rates are the pacing rates now, by action ("" for the account).
func (l *limiter) rates() map[string]float64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	r := map[string]float64{"": l.total.rate}
	for a, p := range l.actions {
		r[a] = p.rate
	}
	return r
}
