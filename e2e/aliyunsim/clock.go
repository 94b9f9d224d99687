package aliyunsim

import (
	"sync"
	"time"
)

// Clock is a clock tests move by hand, for Config.Now: orders, STS tokens
// and request timestamps then age with it, not with real time. A client
// signing with the real time is refused once the clock is 15 minutes away.
type Clock struct {
	mu       sync.Mutex
	start, t time.Time
}

// NewClock is a Clock showing start.
func NewClock(start time.Time) *Clock { return &Clock{start: start, t: start} }

// Now is the time the clock shows.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Moved is how far the clock was moved since NewClock.
func (c *Clock) Moved() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t.Sub(c.start)
}
