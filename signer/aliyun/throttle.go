package aliyun

import (
	"math/rand/v2"
	"time"

	"golang.org/x/time/rate"
)

// backoff is the delay before attempt+1: RetryBase·2^(attempt-1), capped,
// with full jitter on its upper half.
func (c *Client) backoff(attempt int) time.Duration {
	d := c.opts.RetryBase << (attempt - 1)
	if d <= 0 || d > c.opts.MaxRetryDelay {
		d = c.opts.MaxRetryDelay
	}
	return d/2 + rand.N(d/2+1)
}

// throttlePause is how long all calls pause after the n-th consecutive
// throttled answer: 1s, 2s, 4s ... up to a minute, jittered.
func throttlePause(n int) time.Duration {
	if n < 1 {
		n = 1
	}
	if n > 7 {
		n = 7
	}
	d := time.Second << (n - 1)
	if d > time.Minute {
		d = time.Minute
	}
	return d + rand.N(d/4+1)
}

// paused returns how long calls must still wait after throttling.
func (c *Client) paused() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.pauseUntil.Sub(c.now())
}

// noteThrottled reacts to a throttled answer. The client's own rate is
// halved (per throttled answer) with a burst of one, so that waiting calls
// do not come back as a herd; and all calls pause, 1s, 2s, 4s ... for
// consecutive throttling. Answers to calls that were in flight when the
// pause began do not lengthen it.
func (c *Client) noteThrottled() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	c.limiter.SetLimitAt(now, max(c.limiter.Limit()/2, minRate))
	c.limiter.SetBurstAt(now, 1)
	if now.Before(c.pauseUntil) {
		return c.pauseUntil.Sub(now)
	}
	c.throttles++
	c.pauseUntil = now.Add(throttlePause(c.throttles))
	return c.pauseUntil.Sub(now)
}

// minRate is the slowest the client goes after repeated throttling.
const minRate = rate.Limit(0.2)

// noteAnswered ends a throttling streak and lets the rate climb back
// towards the configured one by a tenth per answer; the burst returns with
// the full rate.
func (c *Client) noteAnswered() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.throttles = 0
	full := rate.Limit(c.opts.RateLimit)
	if l := c.limiter.Limit(); l < full {
		l = min(full, l*1.1+0.05)
		now := c.now()
		c.limiter.SetLimitAt(now, l)
		if l == full {
			c.limiter.SetBurstAt(now, c.opts.Burst)
		}
	}
}
