package aliyun

import (
	"container/heap"
	"context"
	"math"
	"sync"
	"testing"
	"time"
)

// fakeClock is a limiter clock that sleeps no real time.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (f *fakeClock) now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

func (f *fakeClock) set(t time.Time) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if t.After(f.t) {
		f.t = t
	}
}

func (f *fakeClock) clock() clock {
	return clock{now: f.now, sleep: func(ctx context.Context, d time.Duration) error {
		if d > 0 {
			f.set(f.now().Add(d))
		}
		return ctx.Err()
	}}
}

// server decides whether a call arriving at a time is accepted.
type server interface {
	accept(at time.Time, action string) bool
}

// tokenBucket throttles like the simulator: qps tokens a second, burst qps.
type tokenBucket struct {
	qps    func(at time.Time) float64
	tokens float64
	last   time.Time
}

func (b *tokenBucket) accept(at time.Time, _ string) bool {
	q := b.qps(at)
	burst := math.Max(1, q)
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = math.Min(burst, b.tokens+at.Sub(b.last).Seconds()*q)
	}
	b.last = at
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// fixedWindows throttles an action beyond limit[action] calls in one
// calendar second (a per-action counter, as per-action limits are usually
// counted); actions without a limit are never throttled.
type fixedWindows struct {
	limit map[string]int
	count map[string]int
	sec   map[string]int64
}

func (w *fixedWindows) accept(at time.Time, action string) bool {
	l, ok := w.limit[action]
	if !ok {
		return true
	}
	if s := at.Unix(); w.sec[action] != s {
		w.sec[action], w.count[action] = s, 0
	}
	w.count[action]++
	return w.count[action] <= l
}

// sent is one call as the server saw it.
type sent struct {
	at        time.Time
	action    string
	throttled bool
}

type event struct {
	at     time.Time
	worker int
	kind   int // want, send, answer
	tk     ticket
	thr    bool
	seq    int
}

const (
	evWant = iota
	evSend
	evAnswer
)

type events []*event

func (e events) Len() int { return len(e) }
func (e events) Less(i, j int) bool {
	if !e[i].at.Equal(e[j].at) {
		return e[i].at.Before(e[j].at)
	}
	return e[i].seq < e[j].seq
}
func (e events) Swap(i, j int) { e[i], e[j] = e[j], e[i] }
func (e *events) Push(x any)   { *e = append(*e, x.(*event)) }
func (e *events) Pop() any {
	old := *e
	x := old[len(old)-1]
	*e = old[:len(old)-1]
	return x
}

// run drives l from workers that each call again as soon as their last
// answer arrived (demand above any rate), worker i calling actions[i %
// len(actions)], for dur; latency is one way. It returns what the server
// saw and samples of the account's rate, one a second.
func run(t *testing.T, l *limiter, fc *fakeClock, srv server, workers int, actions []string, dur, latency time.Duration) (calls []sent, rates []float64) {
	t.Helper()
	start := fc.now()
	q := &events{}
	seq := 0
	push := func(e *event) { seq++; e.seq = seq; heap.Push(q, e) }
	for w := range workers {
		push(&event{at: start, worker: w, kind: evWant})
	}
	nextSample := start
	for q.Len() > 0 {
		e := heap.Pop(q).(*event)
		if e.at.Sub(start) > dur {
			break
		}
		fc.set(e.at)
		for !nextSample.After(e.at) {
			rates = append(rates, l.rates()[""])
			nextSample = nextSample.Add(time.Second)
		}
		action := actions[e.worker%len(actions)]
		switch e.kind {
		case evWant:
			at, tk, ok := l.reserve(action, e.at, time.Hour)
			if !ok {
				t.Fatalf("no slot within an hour")
			}
			push(&event{at: at, worker: e.worker, kind: evSend, tk: tk})
		case evSend:
			if !l.valid(e.tk) {
				push(&event{at: e.at, worker: e.worker, kind: evWant})
				continue
			}
			if e.tk.needTotal {
				tk := e.tk
				push(&event{at: l.reserveTotal(&tk, e.at), worker: e.worker, kind: evSend, tk: tk})
				continue
			}
			if d := l.admit(e.tk, e.at); d > 0 {
				push(&event{at: e.at.Add(d), worker: e.worker, kind: evSend, tk: e.tk})
				continue
			}
			arrive := e.at.Add(latency)
			ok := srv.accept(arrive, action)
			calls = append(calls, sent{at: arrive, action: action, throttled: !ok})
			push(&event{at: arrive.Add(latency), worker: e.worker, kind: evAnswer, tk: e.tk, thr: !ok})
		case evAnswer:
			l.answered(e.tk, e.thr)
			push(&event{at: e.at, worker: e.worker, kind: evWant})
		}
	}
	return calls, rates
}

func testLimiter(limit float64, burst int, actionLimits map[string]float64) (*limiter, *fakeClock) {
	fc := &fakeClock{t: time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	return newLimiter("cas", "test", Options{RateLimit: limit, Burst: burst, ActionRateLimits: actionLimits}, fc.clock()), fc
}

// stats are what the server saw from from on: accepted calls per second,
// throttled answers, and the most calls in any one second.
func stats(calls []sent, from, to time.Time, action string) (acceptedPerSec float64, throttled, peak int) {
	var in []sent
	for _, c := range calls {
		if !c.at.Before(from) && c.at.Before(to) && (action == "" || c.action == action) {
			in = append(in, c)
		}
	}
	accepted := 0
	j := 0
	for i, c := range in {
		if c.throttled {
			throttled++
		} else {
			accepted++
		}
		for c.at.Sub(in[j].at) >= time.Second {
			j++
		}
		peak = max(peak, i-j+1)
	}
	return float64(accepted) / to.Sub(from).Seconds(), throttled, peak
}

func TestLimiterLearnsTheAccountRate(t *testing.T) {
	for _, tc := range []struct {
		name string
		srv  func() server
		real float64
	}{
		{"token bucket 5/s", func() server { return &tokenBucket{qps: func(time.Time) float64 { return 5 }} }, 5},
		{"token bucket 12/s", func() server { return &tokenBucket{qps: func(time.Time) float64 { return 12 }} }, 12},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// Configured at 40/s, four times what the account really
			// allows: the limiter must find the real rate and keep to it.
			l, fc := testLimiter(40, 40, map[string]float64{})
			start := fc.now()
			calls, rates := run(t, l, fc, tc.srv(), 10, []string{"CreateCertificateWithCsrRequest", "DescribeCertificateState"}, 120*time.Second, 5*time.Millisecond)
			learnedBy := start.Add(20 * time.Second)
			acc, throttled, _ := stats(calls, learnedBy, start.Add(120*time.Second), "")
			if acc < 0.85*tc.real {
				t.Errorf("accepted %.2f calls/s after learning, want at least 85%% of the real %v", acc, tc.real)
			}
			// 100 s at the real rate are hundreds of calls: a handful of
			// throttled answers is the probing.
			if max := int(100 * tc.real / 50); throttled > max {
				t.Errorf("%d throttled answers in 100s after learning, want at most %d (one in 50 calls)", throttled, max)
			}
			_, early, _ := stats(calls, start, learnedBy, "")
			t.Logf("after learning: %.2f accepted calls/s, %d throttled; %d throttled while learning; rate now %.2f", acc, throttled, early, l.rates()[""])
			if early > 15 {
				t.Errorf("%d throttled answers while learning, want at most 15", early)
			}
			for i, r := range rates[20:] {
				if r > 1.5*tc.real {
					t.Fatalf("at %ds the rate is %.2f, above 1.5 times the real %v", 20+i, r, tc.real)
				}
			}
		})
	}
}

func TestLimiterNoSecondAboveTheRate(t *testing.T) {
	for _, tc := range []struct {
		limit float64
		burst int
		want  int
	}{
		{5, 10, 5},
		{4.5, 10, 5},
		{3, 10, 3},
		{100, 10, 10},
		{0.5, 10, 1},
	} {
		l, fc := testLimiter(tc.limit, tc.burst, map[string]float64{})
		start := fc.now()
		calls, _ := run(t, l, fc, &fixedWindows{}, 20, []string{"DescribeCertificateState"}, 30*time.Second, time.Millisecond)
		_, _, peak := stats(calls, start, start.Add(30*time.Second), "")
		if peak != tc.want {
			t.Errorf("limit %v burst %d: %d calls in the busiest second, want %d", tc.limit, tc.burst, peak, tc.want)
		}
	}
	// After throttling, no second holds more than the learned rate either.
	l, fc := testLimiter(10, 10, map[string]float64{})
	start := fc.now()
	calls, _ := run(t, l, fc, &tokenBucket{qps: func(time.Time) float64 { return 3 }}, 20, []string{"DescribeCertificateState"}, 60*time.Second, time.Millisecond)
	_, _, peak := stats(calls, start.Add(10*time.Second), start.Add(60*time.Second), "")
	if peak > 4 {
		t.Errorf("%d calls in the busiest second against an account allowing 3/s, want at most 4", peak)
	}
}

func TestLimiterPerActionLimits(t *testing.T) {
	// GetTaskAttribute is documented at 10/s per account; the account's
	// own limit is 50/s.
	l, fc := testLimiter(50, 50, nil)
	start := fc.now()
	srv := &fixedWindows{limit: map[string]int{"GetTaskAttribute": 10}, count: map[string]int{}, sec: map[string]int64{}}
	calls, _ := run(t, l, fc, srv, 20, []string{"GetTaskAttribute", "GetInstanceDetail"}, 30*time.Second, time.Millisecond)
	end := start.Add(30 * time.Second)
	gtaRate, gtaThrottled, gtaPeak := stats(calls, start, end, "GetTaskAttribute")
	otherRate, _, _ := stats(calls, start, end, "GetInstanceDetail")
	if gtaPeak > 10 || gtaThrottled > 0 {
		t.Errorf("GetTaskAttribute: %d in the busiest second, %d throttled; want at most its 10/s and none", gtaPeak, gtaThrottled)
	}
	if gtaRate < 9 {
		t.Errorf("GetTaskAttribute: %.2f calls/s, want close to its 10/s", gtaRate)
	}
	// The other action has the rest of the account's rate.
	if otherRate < 35 {
		t.Errorf("GetInstanceDetail: %.2f calls/s, want the rest of the account's 50/s", otherRate)
	}

	// A limit configured below the real one and learned: the action's
	// throttled answers slow that action alone.
	l, fc = testLimiter(50, 50, map[string]float64{"GetTaskAttribute": 20})
	start = fc.now()
	srv = &fixedWindows{limit: map[string]int{"GetTaskAttribute": 6}, count: map[string]int{}, sec: map[string]int64{}}
	calls, _ = run(t, l, fc, srv, 20, []string{"GetTaskAttribute", "GetInstanceDetail"}, 60*time.Second, time.Millisecond)
	end = start.Add(60 * time.Second)
	_, thr, peak := stats(calls, start.Add(15*time.Second), end, "GetTaskAttribute")
	otherRate, _, _ = stats(calls, start.Add(15*time.Second), end, "GetInstanceDetail")
	if peak > 7 || thr > 3 {
		t.Errorf("GetTaskAttribute after learning: %d in the busiest second, %d throttled; want at most 7 and 3", peak, thr)
	}
	if r := l.rates()[""]; r != 50 || otherRate < 35 {
		t.Errorf("the account's rate is %v and GetInstanceDetail makes %.2f calls/s: one action's limit slowed the others", r, otherRate)
	}
}

func TestLimiterRecoversWhenThrottlingStops(t *testing.T) {
	// The account allows 2/s for a minute (someone else uses the rest),
	// then 10/s.
	l, fc := testLimiter(10, 10, map[string]float64{})
	start := fc.now()
	change := start.Add(60 * time.Second)
	srv := &tokenBucket{qps: func(at time.Time) float64 {
		if at.Before(change) {
			return 2
		}
		return 10
	}}
	calls, rates := run(t, l, fc, srv, 20, []string{"DescribeCertificateState"}, 180*time.Second, time.Millisecond)
	if r := rates[59]; r > 3 {
		t.Fatalf("rate %.2f before the change, want about 2", r)
	}
	// Smooth: never more than 2 calls/s more from one second to the next.
	for i := 60; i < len(rates); i++ {
		if rates[i]-rates[i-1] > 2 {
			t.Fatalf("the rate jumped from %.2f to %.2f at %ds", rates[i-1], rates[i], i)
		}
	}
	// Back to the configured rate within two minutes.
	if r := rates[179]; r < 9 {
		t.Errorf("rate %.2f two minutes after throttling stopped, want back near 10", r)
	}
	acc, thr, _ := stats(calls, change.Add(90*time.Second), start.Add(180*time.Second), "")
	t.Logf("rates by second after the change: %.1f", rates[60:])
	if acc < 8 || thr > 2 {
		t.Errorf("in the last 30s: %.2f accepted calls/s and %d throttled, want at least 8 and at most 2", acc, thr)
	}
}

func TestLimiterLateWakeUpsDoNotBunch(t *testing.T) {
	// Ten calls get their slots (0, 0.2s, ... 1.8s) but the process is
	// not scheduled until 1.5s: they must not all start at once.
	l, fc := testLimiter(5, 10, map[string]float64{})
	start := fc.now()
	var tickets []ticket
	for range 10 {
		_, tk, ok := l.reserve("DescribeCertificateState", start, time.Hour)
		if !ok {
			t.Fatal("no slot")
		}
		tickets = append(tickets, tk)
	}
	late := start.Add(1500 * time.Millisecond)
	var starts []sent
	for _, tk := range tickets {
		at := late
		for {
			d := l.admit(tk, at)
			if d <= 0 {
				break
			}
			at = at.Add(d)
		}
		late = at
		starts = append(starts, sent{at: at})
	}
	_, _, peak := stats(starts, start, start.Add(time.Minute), "")
	if peak > 5 {
		t.Errorf("%d calls started within one second after a late wake-up, want at most 5", peak)
	}
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].at.Sub(starts[i-1].at); gap < 100*time.Millisecond {
			t.Fatalf("calls %d and %d started %v apart, want at least half the spacing", i-1, i, gap)
		}
	}
}

func TestParseActionRateLimits(t *testing.T) {
	m, err := ParseActionRateLimits("GetInstanceDetail=10, GetTaskAttribute=0,")
	if err != nil || len(m) != 2 || m["GetInstanceDetail"] != 10 || m["GetTaskAttribute"] != 0 {
		t.Fatalf("got %v, %v", m, err)
	}
	for _, bad := range []string{"GetInstanceDetail", "=5", "X=-1", "X=fast", "X=NaN"} {
		if _, err := ParseActionRateLimits(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	// The parsed limits add to the documented ones, and 0 removes one.
	l, _ := testLimiter(50, 50, m)
	if l.actions["GetInstanceDetail"] == nil || l.actions["GetInstanceDetail"].limit != 10 {
		t.Errorf("GetInstanceDetail has no pacer of its own at 10/s: %+v", l.actions["GetInstanceDetail"])
	}
	if l.actions["GetTaskAttribute"] != nil {
		t.Error("GetTaskAttribute=0 did not remove its documented limit")
	}
	if p := l.actions["GetUserCertificateDetail"]; p == nil || p.limit != 50 {
		t.Errorf("the documented 100/s of GetUserCertificateDetail is not bounded by the account's 50/s: %+v", p)
	}
}

func TestSharedLimits(t *testing.T) {
	shared := NewLimits()
	mk := func(id, secret string) *Client {
		c, err := New(Options{Endpoint: "https://cas.aliyuncs.com", Credentials: Credentials{AccessKeyID: id, AccessKeySecret: secret}, Limits: shared})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	a, b := mk("test-shared-key-id", "secret-one"), mk("test-shared-key-id", "secret-one")
	if a.limiters[CAS.Product] != b.limiters[CAS.Product] {
		t.Error("two clients of one account and endpoint have limiters of their own")
	}
	if c := mk("test-shared-key-id", "not-the-secret"); c.limiters[CAS.Product] == a.limiters[CAS.Product] {
		t.Error("a client with the AccessKey ID but another secret shares the account's limiter")
	}
	if a.limiters[CAS.Product] == a.limiters[Alidns.Product] {
		t.Error("CAS and Alidns share one limiter")
	}
}
