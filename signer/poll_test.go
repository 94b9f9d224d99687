package signer

import (
	"testing"
	"time"
)

func TestPollSchedule(t *testing.T) {
	const poll, maxPoll = 30 * time.Second, 10 * time.Minute
	none := expectation{}
	announced := expectation{at: 2 * time.Minute}
	learned := expectation{at: time.Minute, learned: true}
	for _, tc := range []struct {
		name string
		age  time.Duration
		exp  expectation
		want time.Duration
	}{
		// Nothing expected: every pollInterval for the window, then doubling.
		{"none, at once", 0, none, poll},
		{"none, 29s", 29 * time.Second, none, poll},
		{"none, 3m", 3 * time.Minute, none, poll},
		{"none, window end", 4 * time.Minute, none, 4 * time.Minute},
		{"none, 9m", 9 * time.Minute, none, 9 * time.Minute},
		{"none, 20m", 20 * time.Minute, none, maxPoll},
		{"none, 2 days", 48 * time.Hour, none, maxPoll},
		// Announced (AverageWaitingTime 120 s): one look just after it, then from a tenth up.
		{"announced, records", 3 * time.Second, announced, 118 * time.Second},
		{"announced, at it", 121 * time.Second, announced, 12 * time.Second},
		{"announced, 12s past", 133 * time.Second, announced, 12 * time.Second},
		{"announced, 20s past", 141 * time.Second, announced, 20 * time.Second},
		{"announced, 1m past", 181 * time.Second, announced, poll},
		{"announced, past the window", 121*time.Second + 5*time.Minute, announced, 5 * time.Minute},
		// Learned (the account's orders took 60 s): a step early, so the estimate converges.
		{"learned, records", 2 * time.Second, learned, 52 * time.Second},
		{"learned, at it", 54 * time.Second, learned, 6 * time.Second},
		{"learned, past it", 66 * time.Second, learned, 12 * time.Second},
	} {
		if got := pollSchedule(tc.age, tc.exp, poll, maxPoll); got != tc.want {
			t.Errorf("%s (age %v): %v, want %v", tc.name, tc.age, got, tc.want)
		}
	}
	// A short expectation never makes looks closer than minPollStep.
	if got := pollSchedule(3*time.Second, expectation{at: time.Second}, poll, maxPoll); got != minPollStep {
		t.Errorf("short expectation: %v", got)
	}
	// The pollInterval bounds the gap through the window.
	if got := pollSchedule(10*time.Minute, expectation{at: 9 * time.Minute}, 5*time.Second, maxPoll); got != 5*time.Second {
		t.Errorf("small pollInterval: %v", got)
	}
}

func TestIssuanceHistory(t *testing.T) {
	h := &issuanceHistory{}
	h.issued("a", 2*time.Second) // found at its first look: not learned
	h.lookedPending("b", 60*time.Second)
	h.issued("b", 76*time.Second) // issued between the looks at 60 and 76 s: 68 s
	h.lookedPending("c", 3*time.Second)
	h.issued("c", 62*time.Second) // a look at the expected time after a long sleep: by 62 s
	if _, ok := h.expected(); ok {
		t.Fatal("an expectation from two orders")
	}
	h.add(80 * time.Second)
	if d, ok := h.expected(); !ok || d != 68*time.Second {
		t.Fatalf("expected %v %v, want the median 68s", d, ok)
	}
	h.add(50 * time.Second)
	if d, _ := h.expected(); d != 68*time.Second {
		t.Fatalf("expected %v, want 68s of 50, 62, 68, 80 (the upper middle)", d)
	}
	// Orders last seen pending at their first look, 3 s old, and found issued at the
	// expected 62 s: they came by 62 s, not at 32 s.
	late := &issuanceHistory{}
	for _, key := range []string{"x", "y", "z"} {
		late.lookedPending(key, 3*time.Second)
		late.issued(key, 62*time.Second)
	}
	if d, ok := late.expected(); !ok || d != 62*time.Second {
		t.Fatalf("after long sleeps: expected %v %v, want 62s", d, ok)
	}
	for range issuanceSamples {
		h.add(3 * time.Minute)
	}
	if d, _ := h.expected(); d != 3*time.Minute {
		t.Fatalf("old samples kept: %v", d)
	}
}

func TestFlowPollAfter(t *testing.T) {
	at := t0
	now := t0.Add(5 * time.Second)
	f := flow{cfg: Config{PollInterval: 30 * time.Second, MaxPollInterval: 10 * time.Minute}, now: func() time.Time { return now }, issuance: &issuanceHistory{}}
	st := OrderState{OrderedAt: &at}
	if got := f.pollExpecting(st, 2*time.Minute); got != 116*time.Second {
		t.Errorf("announced 120s at 5s: %v", got)
	}
	for _, d := range []time.Duration{40 * time.Second, 40 * time.Second, 40 * time.Second} {
		f.issuance.add(d)
	}
	// The account's own orders take precedence over the announcement...
	if got := f.pollExpecting(st, 2*time.Minute); got != 31*time.Second {
		t.Errorf("learned 40s at 5s: %v", got)
	}
	// ... until the order is twice as old as they took.
	now = t0.Add(81 * time.Second)
	if got := f.pollExpecting(st, 2*time.Minute); got != 40*time.Second {
		t.Errorf("learned 40s at 81s, announced 120s: %v", got)
	}
	if got := f.pollAfter(OrderState{}); got != 30*time.Second {
		t.Errorf("no OrderedAt: %v", got)
	}
}
