package signer

import (
	"slices"
	"sync"
	"time"
)

// When to look at a pending order again. Every look is an Alibaba Cloud call (and the
// account's rate is shared by all its certificates), so looks go where issuance is likely:
//
//   - When issuance is expected at some age of the order, the next look is at that age, then
//     the gaps grow from a tenth of it (at least minPollStep), doubling up to PollInterval,
//     for a window of pollWindowLooks intervals (or the expected time, if longer); after the
//     window they double up to MaxPollInterval. The expectation is, first, what the account's recent orders of the
//     same order API took (the median of the last issuanceSamples, measured from the order to
//     the look that found the certificate; looked for a step early so that the estimate
//     converges on the real time instead of drifting later by the lag); else, for V2.0
//     instances, the instance's AverageWaitingTime (Alibaba's average issuance time for the
//     product, in seconds).
//   - With no expectation, the gap is PollInterval through the window, then doubling up to
//     MaxPollInterval.
//   - While the CA reviews (validation passed) the gap is at most a tenth of the order's age
//     (at least minPollStep): the certificate follows within moments.
//
// On Alibaba Cloud DV issuance takes minutes after the validation record is visible
// (AverageWaitingTime is "120" in the API's example): the first orders of an issuer look every
// PollInterval, later ones about when the account's orders issue. An order found issued at
// its first look says nothing about when to look, so it is not learned.

const (
	// minPollStep is the shortest gap the schedule makes between two looks.
	minPollStep = 2 * time.Second
	// pollWindowLooks is how many PollIntervals the frequent looks go on for.
	pollWindowLooks = 8
	// issuanceSamples is how many recent orders an expectation is made of, at least
	// minIssuanceSamples.
	issuanceSamples    = 16
	minIssuanceSamples = 3
	// maxPendingLooks bounds the orders whose last pending look is remembered.
	maxPendingLooks = 10000
	// expectMargin is how long after an announced average issuance time the look falls.
	expectMargin = time.Second
)

// issuanceHistory is how long an account's recent orders took from order to issuance.
type issuanceHistory struct {
	mu      sync.Mutex
	samples []time.Duration // oldest first
	// pending is, per order, its age at the latest look that found it pending.
	pending map[string]time.Duration
}

// lookedPending notes a look that found the order (named key) pending at age age.
func (h *issuanceHistory) lookedPending(key string, age time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.pending == nil || len(h.pending) >= maxPendingLooks {
		h.pending = map[string]time.Duration{}
	}
	h.pending[key] = age
}

// issued notes the look that found the order's certificate, at age age: learned when an
// earlier look found the order pending. The certificate came between the two looks: the
// middle when they were close, else the later one (a look made at the expected time after a
// long sleep says the certificate came by then, not half-way through the sleep).
func (h *issuanceHistory) issued(key string, age time.Duration) {
	h.mu.Lock()
	last, ok := h.pending[key]
	delete(h.pending, key)
	h.mu.Unlock()
	switch {
	case !ok || last >= age:
	case age-last <= age/4:
		h.add(last + (age-last)/2)
	default:
		h.add(age)
	}
}

func (h *issuanceHistory) add(d time.Duration) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.samples = append(h.samples, d)
	if len(h.samples) > issuanceSamples {
		h.samples = h.samples[len(h.samples)-issuanceSamples:]
	}
}

// expected is the median of the samples, false with too few.
func (h *issuanceHistory) expected() (time.Duration, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.samples) < minIssuanceSamples {
		return 0, false
	}
	s := slices.Clone(h.samples)
	slices.Sort(s)
	return s[len(s)/2], true
}

// expectation is when an order's certificate is expected, as an age of the order.
type expectation struct {
	at      time.Duration // 0: nothing expected
	learned bool          // from the account's own orders (else announced by Alibaba)
}

// pollSchedule is the gap before the next look at an order of age age.
func pollSchedule(age time.Duration, exp expectation, poll, maxPoll time.Duration) time.Duration {
	start, step := time.Duration(0), poll
	if exp.at > 0 {
		step = min(max(exp.at/10, minPollStep), poll)
		start = exp.at + expectMargin
		if exp.learned {
			start = max(exp.at-step, 0)
		}
		if age < start {
			return min(start-age, maxPoll)
		}
	}
	since := age - start
	if since < max(pollWindowLooks*poll, exp.at) {
		return min(max(since, step), poll)
	}
	return min(max(since, poll), maxPoll)
}

// reviewSchedule is the gap while the CA reviews an order of age age.
func reviewSchedule(age, scheduled, poll time.Duration) time.Duration {
	return min(scheduled, min(max(age/10, minPollStep), poll))
}
