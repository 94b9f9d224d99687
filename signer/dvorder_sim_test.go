package signer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The DV flow (CAS 2018-07-13) against the simulator: purchased instances,
// server-generated keys, key adoption.

func dvSimConfig(url string) signer.Config {
	cfg := simConfig(url)
	cfg.OrderAPI = signer.OrderAPIDVOrder
	cfg.Contact.Province, cfg.Contact.City = "Zhejiang", "Hangzhou"
	cfg.DVOrder.AdoptServerKey = true
	return cfg
}

func newDVSim(t *testing.T, simCfg aliyunsim.Config, mod func(*signer.Config)) (*aliyunsim.Simulator, signer.Signer) {
	t.Helper()
	sim, url := startSim(t, simCfg)
	cfg := dvSimConfig(url)
	if mod != nil {
		mod(&cfg)
	}
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sim, sg
}

// failingStore fails the saves numbered in failAt (1-based); with
// dropLearned it loses what the signer learned, as a controller that stops
// before its next write.
type failingStore struct {
	memStore
	n           int
	failAt      map[int]bool
	dropLearned bool
}

func (f *failingStore) Learn(st signer.OrderState) {
	if !f.dropLearned {
		f.memStore.Learn(st)
	}
}

func (f *failingStore) Save(ctx context.Context, st signer.OrderState) error {
	f.n++
	if f.failAt[f.n] {
		return errors.New("etcd is unhappy")
	}
	return f.memStore.Save(ctx, st)
}

// driveDV calls Sign until the request is issued, asks for key adoption,
// or fails.
func driveDV(t *testing.T, sg signer.Signer, req signer.Request, store signer.StateStore, get func() signer.OrderState, deadline time.Duration) (signer.Outcome, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	for {
		req.State = get()
		res, err := sg.Sign(ctx, req, store)
		if err == nil && res.Pending == nil {
			return res, nil
		}
		if err != nil {
			if _, ok := signer.AsTransient(err); !ok {
				return res, err
			}
		}
		select {
		case <-ctx.Done():
			return res, fmt.Errorf("no result in %v (last: %+v, %v)", deadline, res.Pending, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func parseKey(t *testing.T, keyPEM []byte) crypto.Signer {
	t.Helper()
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		t.Fatal("no PEM key")
	}
	k, err := x509.ParsePKCS8PrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return k.(crypto.Signer)
}

// adoptAndIssue runs one request through adoption and its replacement.
func adoptAndIssue(t *testing.T, sim *aliyunsim.Simulator, sg signer.Signer, name, domain string) string {
	t.Helper()
	store := &memStore{}
	req := signer.Request{Name: name, CSRPEM: csrFor(t, rsaKey(t), domain), NextPrivateKeySecret: "next-key"}
	res, err := driveDV(t, sg, req, store, store.get, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != signer.OutcomeAdoptKey || res.AdoptKey.InstanceID == "" || res.AdoptKey.InstanceID != store.get().InstanceID {
		t.Fatalf("%s: no adoption: %+v", name, res)
	}
	key := parseKey(t, res.AdoptKey.KeyPEM)
	if k, ok := key.Public().(interface{ Size() int }); !ok || k.Size() != 256 {
		t.Fatalf("server key is not RSA 2048")
	}
	repl := &memStore{}
	req2 := signer.Request{Name: name + "-2", CSRPEM: csrFor(t, key, domain), NextPrivateKeySecret: "next-key", AdoptedInstanceID: res.AdoptKey.InstanceID}
	res2, err := driveDV(t, sg, req2, repl, repl.get, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, res2, key, domain)
	return res.AdoptKey.InstanceID
}

func TestSimDVAdoptionOneOrderPerInstance(t *testing.T) {
	sim, sg := newDVSim(t, aliyunsim.Config{DVInstances: 3}, nil)
	if h, err := sg.Check(context.Background()); err != nil || h.UsableInstances == nil || *h.UsableInstances != 3 {
		t.Fatalf("health %+v %v", h, err)
	}
	// Four requests at once for three instances: three are ordered, the
	// fourth waits for an instance and is never ordered twice.
	var wg sync.WaitGroup
	var mu sync.Mutex
	used := map[string]bool{}
	var waiting []string
	for i := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			store := &memStore{}
			req := signer.Request{Name: fmt.Sprintf("ns/r%d", i), CSRPEM: csrFor(t, rsaKey(t), fmt.Sprintf("r%d.example.com", i)), NextPrivateKeySecret: "next-key"}
			for range 50 {
				req.State = store.get()
				res, err := sg.Sign(context.Background(), req, store)
				if _, ok := signer.AsTransient(err); ok {
					// A slow machine loses an answer now and then (the
					// client's timeout): the controller calls again.
					time.Sleep(20 * time.Millisecond)
					continue
				}
				if err != nil {
					t.Errorf("%s: %v", req.Name, err)
					return
				}
				if res.Pending != nil && res.Pending.Reason == signer.ReasonNoUsableInstance {
					mu.Lock()
					waiting = append(waiting, res.Pending.Message)
					mu.Unlock()
					return
				}
				if res.Kind == signer.OutcomeAdoptKey {
					mu.Lock()
					if used[res.AdoptKey.InstanceID] {
						t.Errorf("instance %s handed out twice", res.AdoptKey.InstanceID)
					}
					used[res.AdoptKey.InstanceID] = true
					mu.Unlock()
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
			t.Errorf("%s: no outcome", req.Name)
		}()
	}
	wg.Wait()
	if len(used) != 3 || len(waiting) != 1 || !strings.Contains(waiting[0], "no usable DV instance") {
		t.Fatalf("used %v, waiting %q", used, waiting)
	}
	st := sim.State()
	if n := st.Calls["CreateDVOrderAudit"]; n != 3 {
		t.Fatalf("%d CreateDVOrderAudit calls", n)
	}
	if h, err := sg.Check(context.Background()); err != nil || h.UsableInstances == nil || *h.UsableInstances != 0 {
		t.Fatalf("health %+v %v", h, err)
	}
}

func TestSimDVAdoptedKeyIsIssued(t *testing.T) {
	sim, sg := newDVSim(t, aliyunsim.Config{DVInstances: 3}, nil)
	a := adoptAndIssue(t, sim, sg, "ns/a", "a.example.com")
	b := adoptAndIssue(t, sim, sg, "ns/b", "b.example.com")
	if a == b {
		t.Fatal("same instance twice")
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 2 {
		t.Fatalf("%d CreateDVOrderAudit calls", n)
	}
}

func TestSimDVPagesToAFreeInstance(t *testing.T) {
	sim, sg := newDVSim(t, aliyunsim.Config{DVInstances: 12}, nil)
	ids := make([]string, 0, 12)
	for _, in := range sim.State().DVInstances {
		ids = append(ids, in.ID)
	}
	if h, err := sg.Check(context.Background()); err != nil || h.UsableInstances == nil || *h.UsableInstances != 12 {
		t.Fatalf("health %+v %v", h, err)
	}
	// Every instance but the last one is held by other requests.
	last := ids[len(ids)-1]
	store := &memStore{}
	req := signer.Request{Name: "ns/late", CSRPEM: csrFor(t, rsaKey(t), "late.example.com"), NextPrivateKeySecret: "next-key",
		InstanceTaken: func(_ context.Context, id string) (bool, error) { return id != last, nil }}
	res, err := driveDV(t, sg, req, store, store.get, 10*time.Second)
	if err != nil || res.AdoptKey.InstanceID != last {
		t.Fatalf("%+v %v (want instance %s)", res, err, last)
	}
	if st := sim.State(); st.Calls["DescribeOrderInstanceList"] < 2 {
		t.Fatalf("did not page: %v", st.Calls)
	}
}

func TestSimDVRestarts(t *testing.T) {
	sim, sg := newDVSim(t, aliyunsim.Config{DVInstances: 3}, nil)
	inst := sim.State().DVInstances[1].ID

	// Restart between reserve and create: the instance is reserved on the
	// request but never ordered; the next Sign orders on it, once.
	creating := time.Now().Add(-time.Minute)
	store := &memStore{state: signer.OrderState{InstanceID: inst, Creating: &creating}}
	req := signer.Request{Name: "ns/a", CSRPEM: csrFor(t, rsaKey(t), "a.example.com"), NextPrivateKeySecret: "next-key"}
	res, err := driveDV(t, sg, req, store, store.get, 10*time.Second)
	if err != nil || res.AdoptKey.InstanceID != inst {
		t.Fatalf("%+v %v", res, err)
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 1 {
		t.Fatalf("%d creates", n)
	}

	// Restart between the create and the controller's next write: what
	// the signer learned from the create's answer is lost.
	fs := &failingStore{dropLearned: true}
	req = signer.Request{Name: "ns/b", CSRPEM: csrFor(t, rsaKey(t), "b.example.com"), NextPrivateKeySecret: "next-key"}
	req.State = fs.get()
	if _, err := sg.Sign(context.Background(), req, fs); err != nil {
		t.Fatal(err)
	}
	if st := fs.get(); st.InstanceID == "" || st.Creating == nil {
		t.Fatalf("state %+v", st)
	}
	fs.dropLearned = false
	// A new process (fresh signer) resumes from the saved state.
	sg2, err := signer.New(dvSimConfig(sim.URL()))
	if err != nil {
		t.Fatal(err)
	}
	res, err = driveDV(t, sg2, req, fs, fs.get, 10*time.Second)
	if err != nil || res.Kind != signer.OutcomeAdoptKey {
		t.Fatalf("%+v %v", res, err)
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 2 {
		t.Fatalf("%d creates for two requests", n)
	}
}

func TestSimDVRefusals(t *testing.T) {
	sim, sg := newDVSim(t, aliyunsim.Config{DVInstances: 1}, nil)
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for name, tc := range map[string]struct {
		sg     signer.Signer
		req    signer.Request
		reason string
	}{
		"ECDSA":       {sg, signer.Request{Name: "ns/ec", CSRPEM: csrFor(t, ec, "ec.example.com"), NextPrivateKeySecret: "k"}, signer.ReasonDVKeyUnsupported},
		"no next key": {sg, signer.Request{Name: "ns/nk", CSRPEM: csrFor(t, rsaKey(t), "nk.example.com")}, signer.ReasonNoNextKeySecret},
	} {
		_, err := tc.sg.Sign(context.Background(), tc.req, &memStore{})
		if p, ok := signer.AsPermanent(err); !ok || p.Reason != tc.reason {
			t.Errorf("%s: got %v", name, err)
		}
	}
	cfg := dvSimConfig(sim.URL())
	cfg.DVOrder.AdoptServerKey = false
	off, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = off.Sign(context.Background(), signer.Request{Name: "ns/off", CSRPEM: csrFor(t, rsaKey(t), "off.example.com"), NextPrivateKeySecret: "k"}, &memStore{})
	if p, ok := signer.AsPermanent(err); !ok || p.Reason != signer.ReasonKeyAdoptionOff || !strings.Contains(err.Error(), "adoptServerKey") {
		t.Errorf("adoption off: got %v", err)
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 0 {
		t.Fatalf("%d orders placed for refused requests", n)
	}
}

func TestSimDVCheckedFail(t *testing.T) {
	sim, sg := newDVSim(t, aliyunsim.Config{DVInstances: 1, FailDomains: []string{"fail.example.com"}}, nil)
	store := &memStore{}
	req := signer.Request{Name: "ns/f", CSRPEM: csrFor(t, rsaKey(t), "www.fail.example.com"), NextPrivateKeySecret: "k"}
	_, err := driveDV(t, sg, req, store, store.get, 10*time.Second)
	p, ok := signer.AsPermanent(err)
	if !ok || p.Reason != signer.ReasonVerifyFailed || !strings.Contains(err.Error(), "www.fail.example.com") {
		t.Fatalf("got %v", err)
	}
	if n := sim.State().Calls["CreateDVOrderAudit"]; n != 1 {
		t.Fatalf("%d creates", n)
	}
}

// TestSimDVPollsAtValidationDelay measures the DescribeDVOrderResult calls
// one certificate costs when the CA takes 60 s to validate, at the default
// 30 s first poll backing off to 10 min. The simulator and the signer share
// one clock, moved by each RetryAfter instead of waiting it.
func TestSimDVPollsAtValidationDelay(t *testing.T) {
	clk := aliyunsim.NewClock(time.Now())
	sim, url := startSim(t, aliyunsim.Config{DVInstances: 1, ValidationDelay: time.Minute, Now: clk.Now})
	cfg := dvSimConfig(url)
	cfg.PollInterval, cfg.MaxPollInterval = 30*time.Second, 10*time.Minute
	sg, err := signer.NewWithClock(cfg, clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	req := signer.Request{Name: "ns/p", CSRPEM: csrFor(t, rsaKey(t), "p.example.com"), NextPrivateKeySecret: "k"}
	res := signMovingClock(t, sg, req, store, clk)
	key := parseKey(t, res.AdoptKey.KeyPEM)
	repl := &memStore{}
	req2 := signer.Request{Name: "ns/p2", CSRPEM: csrFor(t, key, "p.example.com"), NextPrivateKeySecret: "k", AdoptedInstanceID: res.AdoptKey.InstanceID}
	if res := signMovingClock(t, sg, req2, repl, clk); res.Certificate == nil {
		t.Fatalf("%+v", res)
	}
	n := sim.State().Calls["DescribeDVOrderResult"]
	t.Logf("DescribeDVOrderResult calls for one certificate at a 60 s validation delay: %d (%s on the clock)", n, clk.Moved())
	if n > 5 {
		t.Fatalf("%d DescribeDVOrderResult calls for one certificate", n)
	}
}

// signMovingClock calls Sign as the controller would until the request is
// no longer pending, moving clk by each RetryAfter instead of waiting it.
func signMovingClock(t *testing.T, sg signer.Signer, req signer.Request, store *memStore, clk *aliyunsim.Clock) signer.Outcome {
	t.Helper()
	for range 100 {
		req.State = store.get()
		res, err := sg.Sign(context.Background(), req, store)
		if err != nil {
			t.Fatal(err)
		}
		if res.Pending == nil {
			return res
		}
		clk.Advance(res.Pending.RetryAfter)
	}
	t.Fatal("still pending after 100 calls")
	return signer.Outcome{}
}
