package aliyun_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// simCalls timestamps the calls the simulator answers, from its log.
type simCalls struct {
	mu    sync.Mutex
	at    []time.Time
	throt []bool
}

func (s *simCalls) logf(format string, args ...any) {
	if !strings.HasPrefix(format, "aliyunsim: %s %s %s ak=") || len(args) < 6 {
		return
	}
	code, _ := args[5].(string)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.at = append(s.at, time.Now())
	s.throt = append(s.throt, strings.HasPrefix(code, "Throttling"))
}

// Against the simulator's flow control (a token bucket over all signed
// calls), a client configured far above the account's real rate learns it:
// it uses most of the rate with few throttled answers.
func TestLearnsTheSimulatorsRate(t *testing.T) {
	const real = 5.0
	const keyID, secret = "test-throttle-key-id", "throttle-secret-0123456789"
	calls := &simCalls{}
	sim, err := aliyunsim.New(aliyunsim.Config{AccessKeys: map[string]string{keyID: secret}, ThrottleQPS: real, Logf: calls.logf})
	if err != nil {
		t.Fatal(err)
	}
	url, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = sim.Close() })
	c, err := aliyun.New(aliyun.Options{
		Endpoint:    url,
		Credentials: aliyun.Credentials{AccessKeyID: keyID, AccessKeySecret: secret},
		RateLimit:   20, // four times what the account allows
		Burst:       20,
		Endpoints:   aliyun.EndpointPolicy{AllowInsecure: true},
	})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	const learning, measured = 3 * time.Second, 6 * time.Second
	ctx, cancel := context.WithDeadline(context.Background(), start.Add(learning+measured))
	defer cancel()
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, err := c.DescribePackageState(ctx, "digicert-free-1-free")
				if e, ok := aliyun.AsError(err); ok && e.Code == "Throttling.Client" {
					// Not sent: come back when the limiter has room, as
					// the controllers do.
					select {
					case <-ctx.Done():
					case <-time.After(e.RetryAfter):
					}
				}
			}
		})
	}
	wg.Wait()

	calls.mu.Lock()
	defer calls.mu.Unlock()
	from := start.Add(learning)
	accepted, throttled, throttledLater := 0, 0, 0
	var line []string
	for i, at := range calls.at {
		mark := "."
		if calls.throt[i] {
			mark = "T"
			throttled++
			if at.After(from) {
				throttledLater++
			}
		} else if at.After(from) {
			accepted++
		}
		line = append(line, at.Sub(start).Round(10*time.Millisecond).String()+mark)
	}
	rate := float64(accepted) / measured.Seconds()
	t.Logf("%d calls, %d throttled (%d after learning); %.2f accepted calls/s after learning: %s",
		len(calls.at), throttled, throttledLater, rate, strings.Join(line, " "))
	// The halving it replaced reached under half of the rate here; the
	// bound leaves room for a loaded machine.
	if rate < 0.7*real {
		t.Errorf("%.2f accepted calls/s after learning, want at least 70%% of the account's %v", rate, real)
	}
	if throttled > 8 || throttledLater > 3 {
		t.Errorf("%d throttled answers, %d of them after learning; want at most 8 and 3", throttled, throttledLater)
	}
}
