package signer_test

import (
	"crypto/elliptic"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The account's instance listing, shared by its issuers and requests, against the simulator.

// otherKeyID is a second AccessKey of the simulator's account: a signer using it stands for
// another process (another cluster) on the same account, which shares nothing with this one.
const (
	otherKeyID  = "test-simulator-key-2"
	otherSecret = "simulator-secret-other-0123456"
)

// TestSimInstanceSharedListing: ten requests of two issuers of one account, signed at once, on
// an account of 250 instances (three pages): one walk through ListInstances serves them all,
// and each request gets an instance of its own with one application.
func TestSimInstanceSharedListing(t *testing.T) {
	const n = 10
	sim, url := instanceSim(t, 250, nil)
	signers := []signer.Signer{newInstanceSigner(t, instanceConfig(url)), newInstanceSigner(t, instanceConfig(url))}
	start := make(chan struct{})
	stores := make([]*memStore, n)
	var wg sync.WaitGroup
	for i := range n {
		stores[i] = &memStore{}
		name := fmt.Sprintf("s%d.example.com", i)
		csr := csrFor(t, ecKey(t, elliptic.P256()), name)
		wg.Go(func() {
			<-start
			if _, err := drive(t, signers[i%2], signer.Request{Name: name, Owner: "default/" + name, CSRPEM: csr}, stores[i], 20*time.Second); err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	if got := sim.State().Calls["ListInstances"]; got != 3 {
		t.Errorf("%d ListInstances calls for %d concurrent requests, want one walk of 3 pages", got, n)
	}
	seen := map[string]bool{}
	for i, s := range stores {
		id := s.get().InstanceID
		if id == "" || seen[id] {
			t.Errorf("request %d: instance %q (taken twice or none)", i, id)
		}
		seen[id] = true
	}
	per, total := applications(sim)
	if total != n {
		t.Errorf("%d applications, want %d: %v", total, n, per)
	}
	for id, a := range per {
		if a > 1 {
			t.Errorf("instance %s: %d applications", id, a)
		}
	}
}

// TestSimInstanceStaleListing: another process on the account binds and issues on instances
// this process's listing still shows inactive. Once that view is older than a few seconds, a
// fresh instance is chosen only from a new page of inactive instances (one call, not a walk):
// never one of the other process's, never a second application on one instance.
func TestSimInstanceStaleListing(t *testing.T) {
	clk := aliyunsim.NewClock(time.Now())
	sim, url := instanceSim(t, 150, func(c *aliyunsim.Config) {
		c.Now = clk.Now
		c.AccessKeys = map[string]string{simKeyID: simSecret, otherKeyID: otherSecret}
	})
	here := newClockedSigner(t, instanceConfig(url), clk)
	otherCfg := instanceConfig(url)
	otherCfg.Credentials = signer.Credentials{AccessKeyID: otherKeyID, AccessKeySecret: otherSecret}
	other := newClockedSigner(t, otherCfg, clk)

	issueOn := func(sg signer.Signer, name string) string {
		store := &memStore{}
		req := signer.Request{Name: name, Owner: "default/" + name, CSRPEM: csrFor(t, ecKey(t, elliptic.P256()), name)}
		if res := signMovingClock(t, sg, req, store, clk); res.Certificate == nil {
			t.Fatalf("%s: %+v", name, res)
		}
		return store.get().InstanceID
	}
	issueOn(here, "first.example.com") // this process walks the listing: 2 pages
	theirs := map[string]bool{}
	for i := range 3 {
		theirs[issueOn(other, fmt.Sprintf("theirs%d.example.com", i))] = true
	}
	before := sim.State().Calls["ListInstances"]
	clk.Advance(30 * time.Second)
	for i := range 3 {
		if id := issueOn(here, fmt.Sprintf("ours%d.example.com", i)); theirs[id] {
			t.Errorf("ours%d: chose instance %s, bound to the other process's Certificate", i, id)
		}
	}
	if got := sim.State().Calls["ListInstances"] - before; got != 1 {
		t.Errorf("%d ListInstances calls for three requests with a stale listing, want 1 (a page of inactive instances)", got)
	}
	per, _ := applications(sim)
	for id, a := range per {
		if a > 1 {
			t.Errorf("instance %s: %d applications", id, a)
		}
	}
}

func newClockedSigner(t *testing.T, cfg signer.Config, clk *aliyunsim.Clock) signer.Signer {
	t.Helper()
	sg, err := signer.NewWithClock(cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}
