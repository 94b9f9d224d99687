package bench

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// simCall is one API call the simulator answered.
type simCall struct {
	// At is when the call reached the simulator: when it logged the
	// answer, less the time it took to answer (calls that queue for the
	// simulator's lock would otherwise look as if they came together).
	At     time.Time
	Action string
	Status int
	Code   string // the error code, "" for a success
}

// throttled reports a flow-control answer.
func (c simCall) throttled() bool { return strings.HasPrefix(c.Code, "Throttling") }

// simCallLog timestamps every call the simulator answers, from its log
// hook, to measure call rates over time.
type simCallLog struct {
	mu    sync.Mutex
	calls []simCall
}

// logf is the simulator's Logf: it keeps the per-call lines
// ("aliyunsim: METHOD VERSION ACTION ak=... -> STATUS CODE (DURATION)").
func (l *simCallLog) logf(format string, args ...any) {
	if !strings.HasPrefix(format, "aliyunsim: %s %s %s ak=") || len(args) < 6 {
		return
	}
	action, _ := args[2].(string)
	status, _ := args[4].(int)
	code, _ := args[5].(string)
	at := time.Now()
	if len(args) > 6 {
		if took, ok := args[6].(time.Duration); ok {
			at = at.Add(-took)
		}
	}
	l.mu.Lock()
	l.calls = append(l.calls, simCall{At: at, Action: action, Status: status, Code: code})
	l.mu.Unlock()
}

// mark is the position to pass to since.
func (l *simCallLog) mark() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.calls)
}

// since returns the calls answered after mark.
func (l *simCallLog) since(mark int) []simCall {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]simCall(nil), l.calls[mark:]...)
}

// callRate is the mean rate of calls between the first and the last, and
// the most calls answered within any one second.
func callRate(calls []simCall) (mean float64, peak1s int) {
	if len(calls) < 2 {
		return 0, len(calls)
	}
	// Answers are logged in the order they end, not the order calls came.
	calls = slices.Clone(calls)
	slices.SortStableFunc(calls, func(a, b simCall) int { return a.At.Compare(b.At) })
	span := calls[len(calls)-1].At.Sub(calls[0].At).Seconds()
	if span > 0 {
		mean = float64(len(calls)-1) / span
	}
	j := 0
	for i := range calls {
		for calls[i].At.Sub(calls[j].At) >= time.Second {
			j++
		}
		peak1s = max(peak1s, i-j+1)
	}
	return mean, peak1s
}
