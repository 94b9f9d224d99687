package aliyun

import (
	"math/rand/v2"
	"time"
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
