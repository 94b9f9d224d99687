package aliyunsim

import (
	"math"
	"time"
)

// Flow control and fault injection, applied to signed calls after authentication.

// tokenBucket is a rate limiter over all signed calls: it holds up to max(1, qps) tokens and
// refills at qps per second. Its zero value starts full on first use.
type tokenBucket struct {
	tokens float64
	last   time.Time
}

// takeToken spends one token; false means the call is throttled. The caller holds s.mu.
func (s *Simulator) takeToken() bool {
	qps := s.rt.throttleQPS
	if qps <= 0 {
		return true
	}
	// Real time, not s.now: the limit is about how fast the client calls.
	now := time.Now()
	burst := math.Max(1, qps)
	b := &s.bucket
	if b.last.IsZero() {
		b.tokens = burst
	} else {
		b.tokens = math.Min(burst, b.tokens+now.Sub(b.last).Seconds()*qps)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

type fault int

const (
	faultNone       fault = iota
	faultBefore           // 500/503 without running the action
	faultAfter            // the action runs, then 500/503: the answer is lost, the effect stays
	faultHangBefore       // no answer within the client's timeout, action not run
	faultHangAfter        // the action runs, then no answer within the client's timeout
)

// rollFault decides the fate of one signed call: with probability faultRate it is a fault;
// 80% of faults are 5xx answers (half of them after the action took effect), 20% hang (half
// of them after the action took effect). The caller holds s.mu.
func (s *Simulator) rollFault() fault {
	rnd := s.rnd
	if s.faultRnd != nil {
		rnd = s.faultRnd
	}
	if s.rt.faultRate <= 0 || rnd.Float64() >= s.rt.faultRate {
		return faultNone
	}
	after := rnd.IntN(2) == 1
	if rnd.Float64() < 0.8 {
		if after {
			return faultAfter
		}
		return faultBefore
	}
	if after {
		return faultHangAfter
	}
	return faultHangBefore
}

// faultError is InternalError or ServiceUnavailable, at random.
func (s *Simulator) faultError() *apiError {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.rnd.IntN(2) == 0 {
		return errInternal
	}
	return errUnavailable
}
