package aliyun

import (
	"os"
	"testing"
	"time"
)

// Ambient credentials must never reach for the ECS metadata service from a
// test machine.
func TestMain(m *testing.M) {
	_ = os.Setenv("ALIBABA_CLOUD_ECS_METADATA_DISABLED", "true")
	os.Exit(m.Run())
}

// fakeLimiterClock makes the client's limiters sleep no real time: their
// clock advances by what they sleep.
func (c *Client) fakeLimiterClock() {
	fc := &fakeClock{t: time.Now()}
	for _, l := range c.limiters {
		l.clock = fc.clock()
	}
}
