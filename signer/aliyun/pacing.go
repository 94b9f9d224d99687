package aliyun

import (
	"math"
	"time"
)

// How a flow of calls learns its limit. Alibaba Cloud publishes few of its
// limits (see ActionRateLimits), so the rate is learned from its throttled
// answers; these constants shape that learning.
const (
	// cutFactor: after a throttled answer the rate goes to this share of
	// the rate the API accepted just before (the learned limit).
	cutFactor = 0.9
	// estimateWindow is how far back the accepted answers are counted to
	// estimate the limit at a throttled answer.
	estimateWindow = 2 * time.Second
	// minEstimateSpan: fewer seconds of history than this are no estimate;
	// the rate is halved instead.
	minEstimateSpan = 500 * time.Millisecond
	// settleAfterCut: a throttled answer within this long after the pause
	// shows the limit learned at the cut was too high.
	settleAfterCut = 2 * estimateWindow
	// cutPause: no call starts within this long after a throttled answer,
	// so that a per-second window or a token bucket on the server side
	// has refilled before the next one.
	cutPause = time.Second
	// recoverPerSecond: below the learned limit the rate climbs back by
	// this share of it per second (from cutFactor to the limit in 1s of
	// calls after the pause).
	recoverPerSecond = 0.1
	// probePerSecond: above the learned limit the rate probes upward,
	// additively, by this share of the limit per second, doubling every
	// probeDoubling without a throttled answer (5% in the first 10s, then
	// 10%, 20% ...), so that a limit that rose is found within a minute
	// and a limit that held costs one throttled answer per probe.
	probePerSecond = 0.005
	probeDoubling  = 10 * time.Second
	// forgetAfter: a flow running at its configured limit this long
	// without a throttled answer forgets what it learned.
	forgetAfter = 5 * time.Minute
	// busyWithin: the rate grows above the learned limit only while calls
	// wait for it (demand above the rate), never on an idle flow.
	busyWithin = time.Second
	// minRate is the slowest a flow goes after repeated throttling.
	minRate = 0.2
)

// pacer paces one flow of calls (an account's calls at one endpoint, or one
// action's) and learns the flow's real limit from throttled answers. Calls
// are spread evenly at the current rate, never sent in a burst, and no
// window of one second holds more than the rate rounded up (at a rate at or
// below a server's limit of N calls a second, never more than N) nor more
// than perSecondCap. The caller holds the lock.
type pacer struct {
	limit        float64 // configured upper bound (calls/s)
	perSecondCap int     // configured most calls in any one second

	rate    float64 // pacing rate now
	learned float64 // the limit learned at the last throttled answer; 0: none met

	epoch      int       // bumped at every cut: reservations of older epochs are made again
	cutAt      time.Time // the last cut
	resumeAt   time.Time // no call starts before
	grownAt    time.Time // the last growth step
	probeSince time.Time // the rate reached the learned limit (probing above since)
	atLimit    time.Time // the rate reached the configured limit (zero: below it)
	busyAt     time.Time // a call last had to wait for this flow
	firstAt    time.Time // the first call

	last     time.Time   // the latest slot handed out
	slots    []time.Time // the latest slots, oldest first, for the one-second window
	sent     []time.Time // the latest calls actually started, oldest first
	accepted []time.Time // answers that were not throttled, within estimateWindow
}

func newPacer(limit float64, perSecondCap int) *pacer {
	return &pacer{limit: limit, perSecondCap: max(perSecondCap, 1), rate: limit}
}

// perSecond is the most calls any one-second window may hold now.
func (p *pacer) perSecond() int {
	return max(1, min(p.perSecondCap, int(math.Ceil(p.rate-1e-9))))
}

// spacing is the time between two calls at the current rate.
func (p *pacer) spacing() time.Duration {
	return time.Duration(float64(time.Second) / p.rate)
}

// earliest is the first time a call may start, asked at now.
func (p *pacer) earliest(now time.Time) time.Time {
	t := now
	if p.resumeAt.After(t) {
		t = p.resumeAt
	}
	if !p.last.IsZero() {
		if next := p.last.Add(p.spacing()); next.After(t) {
			t = next
		}
	}
	if k := p.perSecond(); len(p.slots) >= k {
		if next := p.slots[len(p.slots)-k].Add(time.Second); next.After(t) {
			t = next
		}
	}
	return t
}

// take hands the slot at out (at least earliest(now)).
func (p *pacer) take(at, now time.Time) {
	if p.firstAt.IsZero() {
		p.firstAt = now
	}
	if at.After(now) {
		p.busyAt = now
	}
	p.last = at
	p.slots = append(p.slots, at)
	if keep := max(p.perSecondCap, 1); len(p.slots) > keep {
		p.slots = append(p.slots[:0], p.slots[len(p.slots)-keep:]...)
	}
}

// admitAt is when a call whose slot has come may actually start: a process
// that was not scheduled for a while wakes its callers late and together,
// so the one-second window (and half the spacing) is kept on the times
// calls really start too.
func (p *pacer) admitAt(now time.Time) time.Time {
	t := now
	if n := len(p.sent); n > 0 {
		if next := p.sent[n-1].Add(p.spacing() / 2); next.After(t) {
			t = next
		}
		if k := p.perSecond(); n >= k {
			if next := p.sent[n-k].Add(time.Second); next.After(t) {
				t = next
			}
		}
	}
	return t
}

// started records a call that starts at now.
func (p *pacer) started(now time.Time) {
	p.sent = append(p.sent, now)
	if keep := max(p.perSecondCap, 1); len(p.sent) > keep {
		p.sent = append(p.sent[:0], p.sent[len(p.sent)-keep:]...)
	}
}

// accept records an answer that was not throttled and lets the rate grow.
func (p *pacer) accept(now time.Time) {
	p.accepted = append(p.accepted, now)
	p.trimAccepted(now)
	p.grow(now)
}

func (p *pacer) trimAccepted(now time.Time) {
	i := 0
	for i < len(p.accepted) && now.Sub(p.accepted[i]) > estimateWindow {
		i++
	}
	if i > 0 {
		p.accepted = append(p.accepted[:0], p.accepted[i:]...)
	}
}

// grow moves the rate up after an accepted answer: back to the learned
// limit quickly, above it by an additive probe while calls wait, and to the
// configured limit once nothing was learned.
func (p *pacer) grow(now time.Time) {
	dt := min(now.Sub(p.grownAt), time.Second).Seconds()
	if p.grownAt.IsZero() {
		dt = 0
	}
	p.grownAt = now
	if p.learned == 0 {
		p.rate = p.limit
		return
	}
	if p.rate < p.learned {
		p.rate = min(p.learned, p.rate+p.learned*recoverPerSecond*dt)
		p.probeSince = now
		return
	}
	if p.rate >= p.limit {
		p.rate = p.limit
		if p.atLimit.IsZero() {
			p.atLimit = now
		} else if now.Sub(p.atLimit) >= forgetAfter && now.Sub(p.cutAt) >= forgetAfter {
			p.learned = 0
		}
		return
	}
	if now.Sub(p.busyAt) > busyWithin {
		return
	}
	doublings := min(int(now.Sub(p.probeSince)/probeDoubling), 10)
	p.rate = min(p.limit, p.rate+p.learned*probePerSecond*float64(int(1)<<doublings)*dt)
}

// throttled reacts to a throttled answer to a call made in epoch: the
// limit is estimated from the answers accepted in the window before it,
// the rate goes just below, and calls pause briefly. Answers to calls made
// before the last cut change nothing: they were in flight already. It
// reports whether the rate was cut.
func (p *pacer) throttled(epoch int, now time.Time) bool {
	if epoch != p.epoch {
		return false
	}
	p.trimAccepted(now)
	// The window spans the pause after an earlier cut, if any: a token
	// bucket on the server refilled during it, so the calls accepted just
	// after the pause overstate what the server sustains.
	from := now.Add(-estimateWindow)
	if p.firstAt.After(from) {
		from = p.firstAt
	}
	n := 0
	for _, t := range p.accepted {
		if t.After(from) {
			n++
		}
	}
	// Throttled at this rate, the limit is below it: what was accepted,
	// and at most cutFactor of the rate (when every call of the window
	// was accepted, the window does not show how far below).
	estimate := p.rate / 2
	if span := now.Sub(from); span >= minEstimateSpan && n > 0 {
		estimate = min(p.rate*cutFactor, float64(n)/span.Seconds())
	}
	if p.learned > 0 && now.Sub(p.resumeAt) < settleAfterCut {
		// Throttled again soon after a cut: what was learned was too much
		// (a server's burst allowance, refilled during the pause, inflates
		// the estimate the same way every time), so go below it.
		estimate = min(estimate, p.learned*cutFactor)
	}
	p.learned = max(minRate, estimate)
	p.rate = max(minRate, p.learned*cutFactor)
	p.epoch++
	p.cutAt, p.atLimit = now, time.Time{}
	p.resumeAt = now.Add(cutPause)
	// Slots handed out for later are made again at the new rate.
	if p.last.After(now) {
		p.last = now
	}
	kept := p.slots[:0]
	for _, s := range p.slots {
		if !s.After(now) {
			kept = append(kept, s)
		}
	}
	p.slots = kept
	return true
}
