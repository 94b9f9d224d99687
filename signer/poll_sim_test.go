package signer_test

import (
	"crypto/elliptic"
	"fmt"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The poll schedule against the simulator, on one clock moved by each RetryAfter: how many
// calls a certificate costs when the CA takes its time, and how long after the simulator
// issued the certificate the signer has it.

func totalCalls(st aliyunsim.State) int {
	n := 0
	for action, c := range st.Calls {
		if action != "ListContact" && action != "CreateContact" {
			n += c
		}
	}
	return n
}

// TestSimInstancePollsAtAverageWaitingTime: a 75 s validation delay, announced by the
// instance's AverageWaitingTime: the certificate is seen within seconds of its issuance, with
// at most 8 calls (looks every 30 s would see it 15 s late).
func TestSimInstancePollsAtAverageWaitingTime(t *testing.T) {
	clk := aliyunsim.NewClock(time.Now())
	sim, url := instanceSim(t, 1, func(c *aliyunsim.Config) {
		c.Now, c.ValidationDelay, c.V2.RecordsDelay = clk.Now, 75*time.Second, 2*time.Second
	})
	cfg := instanceConfig(url)
	cfg.PollInterval, cfg.MaxPollInterval = 30*time.Second, 10*time.Minute
	sg := newClockedSigner(t, cfg, clk)
	store := &memStore{}
	req := signer.Request{Name: "slow", Owner: "default/slow", CSRPEM: csrFor(t, ecKey(t, elliptic.P256()), "slow.example.com")}
	if res := signMovingClock(t, sg, req, store, clk); res.Certificate == nil {
		t.Fatalf("%+v", res)
	}
	st := sim.State()
	inst := instanceState(t, sim, store.get().InstanceID)
	lag := clk.Now().Sub(inst.IssuedAt)
	calls := totalCalls(st)
	t.Logf("%d calls (%v), seen %v after the issuance, %v on the clock", calls, st.Calls, lag, clk.Moved())
	if inst.IssuedAt.IsZero() || lag < 0 || lag > 10*time.Second {
		t.Errorf("certificate seen %v after its issuance, want at most 10s", lag)
	}
	if calls > 8 {
		t.Errorf("%d calls for one certificate", calls)
	}
}

// TestSimCSRPollsLearnFromTheAccount: the CA takes 100 s. The first orders, with nothing
// expected, look every pollInterval (30 s) and see the certificate up to 20 s late; once the
// account's orders have shown how long they take, a new order is looked at about then.
func TestSimCSRPollsLearnFromTheAccount(t *testing.T) {
	clk := aliyunsim.NewClock(time.Now())
	sim, url := startSim(t, aliyunsim.Config{Validation: aliyunsim.ValidationAuto, ValidationDelay: 100 * time.Second, Now: clk.Now})
	cfg := simConfig(url)
	cfg.PollInterval, cfg.MaxPollInterval = 30*time.Second, 10*time.Minute
	sg := newClockedSigner(t, cfg, clk)
	order := func(i int) (lag time.Duration, calls int) {
		name := fmt.Sprintf("l%d.example.com", i)
		before := totalCalls(sim.State())
		if res := signMovingClock(t, sg, signer.Request{Name: name, CSRPEM: csrFor(t, rsaKey(t), name)}, &memStore{}, clk); res.Certificate == nil {
			t.Fatalf("%s: %+v", name, res)
		}
		st := sim.State()
		for _, o := range st.Orders {
			if len(o.Domains) == 1 && o.Domains[0] == name {
				return clk.Now().Sub(o.Issued), totalCalls(st) - before
			}
		}
		t.Fatalf("no order for %s", name)
		return 0, 0
	}
	for i := range 3 {
		lag, calls := order(i)
		t.Logf("order %d, nothing learned: %d calls, seen %v late", i, calls, lag)
		if lag < 15*time.Second {
			t.Fatalf("order %d seen %v late with nothing learned: the looks are not every 30s", i, lag)
		}
	}
	lag, calls := order(3)
	t.Logf("order 3, learned: %d calls, seen %v late", calls, lag)
	if lag > 10*time.Second || calls > 6 {
		t.Errorf("with the account's orders learned: %d calls, seen %v late; want ≤ 6 calls and ≤ 10s", calls, lag)
	}
}
