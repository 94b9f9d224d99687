package signer_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The subscription-instance flow (CAS V2.0) against the simulator.

// instanceSim starts a simulator with n inactive V2.0 instances and short V2.0 delays.
func instanceSim(t *testing.T, n int, mod func(*aliyunsim.Config)) (*aliyunsim.Simulator, string) {
	t.Helper()
	cfg := aliyunsim.Config{
		Zones:      []string{"example.com"},
		Validation: aliyunsim.ValidationAuto,
		V2: aliyunsim.V2Config{Instances: n, RecordsDelay: 50 * time.Millisecond,
			CancelRefusal: 300 * time.Millisecond, CancelDelay: 200 * time.Millisecond},
	}
	if mod != nil {
		mod(&cfg)
	}
	return startSim(t, cfg)
}

func instanceConfig(url string) signer.Config {
	cfg := simConfig(url)
	cfg.OrderAPI = signer.OrderAPIInstance
	return cfg
}

func newInstanceSigner(t *testing.T, cfg signer.Config) signer.Signer {
	t.Helper()
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sg
}

func ecKey(t *testing.T, c elliptic.Curve) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(c, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// applications counts the submissions the simulator accepted, per instance.
func applications(sim *aliyunsim.Simulator) (map[string]int, int) { return sim.State().Applications() }

// driveAll drives n requests for n Certificates at once (names prefix0.example.com, ...).
func driveAll(t *testing.T, sg signer.Signer, n int, prefix string, deadline time.Duration) ([]*memStore, []error) {
	stores := make([]*memStore, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		stores[i] = &memStore{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s%d.example.com", prefix, i)
			_, errs[i] = drive(t, sg, signer.Request{Name: name, Owner: "default/" + name, CSRPEM: csrFor(t, rsaKey(t), name)}, stores[i], deadline)
		}()
	}
	wg.Wait()
	return stores, errs
}

func instanceState(t *testing.T, sim *aliyunsim.Simulator, id string) aliyunsim.InstanceState {
	t.Helper()
	for _, i := range sim.State().Instances {
		if i.ID == id {
			return i
		}
	}
	t.Fatalf("no instance %s", id)
	return aliyunsim.InstanceState{}
}

func issue(t *testing.T, sim *aliyunsim.Simulator, sg signer.Signer, owner string, key crypto.Signer, names ...string) (signer.Outcome, *memStore) {
	t.Helper()
	store := &memStore{}
	out, err := drive(t, sg, signer.Request{Name: owner + "-1", Owner: owner, CSRPEM: csrFor(t, key, names[0], names...)}, store, 20*time.Second)
	if err != nil {
		t.Fatalf("%s: %v", owner, err)
	}
	verifyIssued(t, sim, out, key, names...)
	return out, store
}

func TestSimInstanceRSAAndECDSA(t *testing.T) {
	sim, url := instanceSim(t, 2, nil)
	sg := newInstanceSigner(t, instanceConfig(url))
	_, rs := issue(t, sim, sg, "default/rsa", rsaKey(t), "rsa.example.com")
	_, es := issue(t, sim, sg, "default/ec", ecKey(t, elliptic.P256()), "ec.example.com")
	a, b := rs.get().InstanceID, es.get().InstanceID
	if a == "" || b == "" || a == b {
		t.Fatalf("instances %q and %q", a, b)
	}
	per, total := applications(sim)
	if total != 2 || per[a] != 1 || per[b] != 1 {
		t.Fatalf("applications %v", per)
	}
	st := sim.State()
	if st.Calls["CreateContact"] != 1 || st.Calls["ListContact"] != 1 {
		t.Fatalf("the contact was not created once and reused: %v", st.Calls)
	}
	if i := instanceState(t, sim, b); i.Status != "normal" || i.CertificateStatus != "issued" || i.Domain != "ec.example.com" {
		t.Fatalf("instance %+v", i)
	}
	t.Logf("calls for two certificates: %v", st.Calls)
}

func TestSimInstanceRenewalOnSameInstance(t *testing.T) {
	// Right after an issuance the instance refuses updates for a moment.
	sim, url := instanceSim(t, 2, func(c *aliyunsim.Config) { c.V2.UpdateProtection = 300 * time.Millisecond })
	sg := newInstanceSigner(t, instanceConfig(url))
	first, s1 := issue(t, sim, sg, "default/web", rsaKey(t), "web.example.com")
	// A new signer (a restart) renews with a new key: same instance, one more application.
	sg2 := newInstanceSigner(t, instanceConfig(url))
	second, s2 := issue(t, sim, sg2, "default/web", ecKey(t, elliptic.P256()), "web.example.com")
	id := s1.get().InstanceID
	if s2.get().InstanceID != id {
		t.Fatalf("renewal on %s, first on %s", s2.get().InstanceID, id)
	}
	if first.Certificate.Leaf.SerialNumber.Cmp(second.Certificate.Leaf.SerialNumber) == 0 {
		t.Fatal("the renewal returned the first certificate")
	}
	per, total := applications(sim)
	if per[id] != 2 || total != 2 {
		t.Fatalf("applications %v", per)
	}
	if i := instanceState(t, sim, id); len(i.Certificates) != 2 {
		t.Fatalf("certificates on the instance: %+v", i)
	}
	if sim.State().Errors["InvalidStatus.UpdateProtection"] == 0 {
		t.Fatal("the renewal never met the update protection")
	}
}

func TestSimInstanceNeverShared(t *testing.T) {
	sim, url := instanceSim(t, 3, nil)
	sg := newInstanceSigner(t, instanceConfig(url))
	const n = 3
	stores, errs := driveAll(t, sg, n, "c", 20*time.Second)
	seen := map[string]bool{}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("request %d: %v", i, errs[i])
		}
		id := stores[i].get().InstanceID
		if seen[id] {
			t.Fatalf("instance %s used twice", id)
		}
		seen[id] = true
	}
	// A fourth Certificate waits: every instance is bound to another one.
	out, err := sg.Sign(context.Background(), signer.Request{Name: "d", Owner: "default/d", CSRPEM: csrFor(t, rsaKey(t), "d.example.com")}, &memStore{})
	if err != nil || out.Pending == nil || out.Pending.Reason != signer.ReasonNoUsableInstance || !strings.Contains(out.Pending.Message, "3 DV instances (3 normal)") {
		t.Fatalf("fourth: %+v %v", out.Pending, err)
	}
	h, err := sg.Check(context.Background())
	if err != nil || h.UsableInstances == nil || *h.UsableInstances != 3 || *h.InFlightInstances != 0 {
		t.Fatalf("health %+v %v", h, err)
	}
	if _, total := applications(sim); total != 3 {
		t.Fatalf("applications %d", total)
	}
}

// crashStore stops saving once crashed, as a process that died would.
type crashStore struct {
	memStore
	crashed atomic.Bool
}

func (c *crashStore) Save(ctx context.Context, st signer.OrderState) error {
	if c.crashed.Load() {
		return errors.New("crashed")
	}
	return c.memStore.Save(ctx, st)
}

// Learn: what a dead process learned never reaches its next write.
func (c *crashStore) Learn(st signer.OrderState) {
	if !c.crashed.Load() {
		c.memStore.Learn(st)
	}
}

// A crash right after each remote step: a new process resumes from the saved state and the
// instance, with exactly one application.
func TestSimInstanceCrashAfterEachStep(t *testing.T) {
	for _, step := range []string{"UpdateInstance", "ApplyCertificate", "GetUserCertificateDetail"} {
		t.Run(step, func(t *testing.T) {
			sim, url := instanceSim(t, 1, nil)
			store := &crashStore{}
			ctx, crash := context.WithCancel(context.Background())
			cfg := instanceConfig(url)
			cfg.OnCall = func(ci signer.CallInfo) {
				if ci.Action == step && ci.Outcome == "ok" {
					store.crashed.Store(true)
					crash()
				}
			}
			sg := newInstanceSigner(t, cfg)
			req := signer.Request{Name: "web-1", Owner: "default/web", CSRPEM: csrFor(t, rsaKey(t), "web.example.com")}
			for !store.crashed.Load() {
				req.State = store.get()
				if _, err := sg.Sign(ctx, req, store); err != nil {
					if _, ok := signer.AsPermanent(err); ok {
						t.Fatal(err)
					}
				}
				time.Sleep(20 * time.Millisecond)
			}
			if store.get().InstanceID == "" {
				t.Fatal("the instance was not recorded before the crash")
			}
			restarted := newInstanceSigner(t, instanceConfig(url))
			out, err := drive(t, restarted, req, &store.memStore, 20*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			verifyIssued(t, sim, out, rsaKey(t), "web.example.com")
			if _, total := applications(sim); total != 1 {
				t.Fatalf("%d applications", total)
			}
		})
	}
}

// Deleting a Certificate mid-validation: the application is withdrawn (retried while the
// instance refuses) and the Alidns records are removed; the instance is usable again.
func TestSimInstanceCancelMidValidation(t *testing.T) {
	sim, url := instanceSim(t, 1, func(c *aliyunsim.Config) {
		c.Validation, c.ValidationDelay, c.DNSListen = aliyunsim.ValidationDNS, time.Hour, "127.0.0.1:0"
	})
	cfg := instanceConfig(url)
	cfg.DNS = signer.DNSConfig{Provider: signer.DNSProviderAlidns, Endpoint: url, Nameservers: []string{sim.DNSAddr()}}
	sg := newInstanceSigner(t, cfg)
	store := &memStore{}
	req := signer.Request{Name: "web-1", Owner: "default/web", CSRPEM: csrFor(t, rsaKey(t), "www.example.com")}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req.State = store.get()
		out, err := sg.Sign(context.Background(), req, store)
		if err == nil && out.Pending != nil && out.Pending.Reason == signer.ReasonDomainVerify {
			if !strings.Contains(out.Pending.Message, "_dnsauth.www.example.com") {
				t.Fatalf("message %q", out.Pending.Message)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no validation pending: %+v %v", out.Pending, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(recordsOf(sim)) != 1 {
		t.Fatalf("records %+v", recordsOf(sim))
	}
	refused := 0
	for {
		c, err := sg.Cancel(context.Background(), store.get())
		if err == nil {
			if c.Reason != signer.ReasonOrderCancelled {
				t.Fatalf("cancelled %+v", c)
			}
			break
		}
		if _, ok := signer.AsTransient(err); !ok {
			t.Fatal(err)
		}
		refused++
		if time.Now().After(deadline) {
			t.Fatalf("not withdrawn: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	id := store.get().InstanceID
	if i := instanceState(t, sim, id); i.Status != "inactive" || i.CertificateID != 0 || refused == 0 {
		t.Fatalf("after withdrawal (%d retries): %+v", refused, i)
	}
	if len(recordsOf(sim)) != 0 {
		t.Fatalf("records left: %+v", recordsOf(sim))
	}
	if sim.State().Errors["OperationDenied.StatusNotSupport"] == 0 {
		t.Fatal("the withdrawal was never refused first")
	}
}

// 30 % of the calls fail (half of them after the action took effect): every certificate is
// issued, with one application each.
func TestSimInstanceFaults(t *testing.T) {
	const n = 4
	sim, url := instanceSim(t, n, func(c *aliyunsim.Config) { c.FaultHang = 300 * time.Millisecond })
	cfg := instanceConfig(url)
	cfg.Timeout = time.Second
	sg := newInstanceSigner(t, cfg)
	sim.SetFaultRate(0.3)
	_, errs := driveAll(t, sg, n, "f", 60*time.Second)
	sim.SetFaultRate(0)
	for i, err := range errs {
		if err != nil {
			t.Errorf("request %d: %v", i, err)
		}
	}
	per, total := applications(sim)
	for id, a := range per {
		if a != 1 {
			t.Errorf("instance %s: %d applications", id, a)
		}
	}
	st := sim.State()
	if total != n || st.Faults == 0 {
		t.Fatalf("applications %d, faults %d", total, st.Faults)
	}
	t.Logf("faults %d, calls %v", st.Faults, st.Calls)
}

func TestSimInstanceAutoSubmit(t *testing.T) {
	sim, url := instanceSim(t, 1, func(c *aliyunsim.Config) { c.V2.AutoSubmit = true })
	sg := newInstanceSigner(t, instanceConfig(url))
	issue(t, sim, sg, "default/web", rsaKey(t), "web.example.com")
	st := sim.State()
	if _, total := applications(sim); total != 1 || st.Calls["ApplyCertificate"] != 0 {
		t.Fatalf("applications %d, ApplyCertificate calls %d", total, st.Calls["ApplyCertificate"])
	}
}

// TestSimInstanceAutoSubmitLater: the platform starting to submit on UpdateInstance by itself
// is seen by the re-read before every ApplyCertificate: the application is followed, never
// submitted twice, and ApplyCertificate is not even tried on the pending instance.
func TestSimInstanceAutoSubmitLater(t *testing.T) {
	sim, url := instanceSim(t, 3, nil)
	sg := newInstanceSigner(t, instanceConfig(url))
	issue(t, sim, sg, "default/a", rsaKey(t), "a.example.com")
	sim.SetAutoSubmit(true)
	before := sim.State()
	issue(t, sim, sg, "default/b", rsaKey(t), "b.example.com")
	issue(t, sim, sg, "default/c", rsaKey(t), "c.example.com")
	after := sim.State()
	if n := after.Errors["OperationDenied.StatusNotSupport"]; n != 0 {
		t.Errorf("ApplyCertificate was tried %d time(s) on an instance UpdateInstance had submitted", n)
	}
	if n := after.Calls["ApplyCertificate"] - before.Calls["ApplyCertificate"]; n != 0 {
		t.Errorf("%d ApplyCertificate calls after the platform began to submit by itself, want none", n)
	}
	if _, total := applications(sim); total != 3 {
		t.Errorf("%d applications for 3 certificates", total)
	}
}

func csrWith(t *testing.T, key crypto.Signer, tmpl *x509.CertificateRequest) []byte {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, tmpl, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
}

// Bad input fails with its own reason, and nothing is written onto an instance.
func TestSimInstanceBadInputs(t *testing.T) {
	sim, url := instanceSim(t, 1, nil)
	closed := sim.AddInstance(aliyunsim.InstanceSpec{Status: "closed"})
	key := rsaKey(t)
	cases := []struct {
		name   string
		mod    func(*signer.Config)
		csr    []byte
		reason string
	}{
		{"ip SAN", nil, csrWith(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}, IPAddresses: []net.IP{net.ParseIP("10.0.0.1")}}), signer.ReasonUnsupportedSAN},
		{"e-mail SAN", nil, csrWith(t, key, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "a.example.com"}, EmailAddresses: []string{"a@example.com"}}), signer.ReasonUnsupportedSAN},
		{"wildcard on a plain instance", nil, csrFor(t, key, "*.example.com"), signer.ReasonInstanceCapacity},
		{"two names on a one-name instance", nil, csrFor(t, key, "a.example.com", "b.example.com"), signer.ReasonInstanceCapacity},
		{"P-384 key", nil, csrFor(t, ecKey(t, elliptic.P384()), "a.example.com"), signer.ReasonInstanceKeyUnsupported},
		{"unknown instance", func(c *signer.Config) { c.Instance.InstanceIDs = []string{"cas_dv-cn-nosuch"} }, csrFor(t, key, "a.example.com"), signer.ReasonInstanceNotFound},
		{"closed instance", func(c *signer.Config) { c.Instance.InstanceIDs = []string{closed} }, csrFor(t, key, "a.example.com"), signer.ReasonInstanceUnusable},
		{"unknown contact id", func(c *signer.Config) { c.Instance.ContactIDs = []int64{42} }, csrFor(t, key, "a.example.com"), signer.ReasonInvalidContact},
		{"invalid contact", func(c *signer.Config) { c.Contact.Email, c.Contact.Phone = "nobody@example.com", "12" }, csrFor(t, key, "a.example.com"), signer.ReasonInvalidContact},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := instanceConfig(url)
			if c.mod != nil {
				c.mod(&cfg)
			}
			sg := newInstanceSigner(t, cfg)
			_, err := drive(t, sg, signer.Request{Name: "bad", Owner: "default/bad", CSRPEM: c.csr}, &memStore{}, 5*time.Second)
			p, ok := signer.AsPermanent(err)
			if !ok || p.Reason != c.reason {
				t.Fatalf("want %s, got %v", c.reason, err)
			}
		})
	}
	// Only the unknown contact id reaches UpdateInstance, which refuses it.
	st := sim.State()
	if _, total := st.Applications(); total != 0 || st.Calls["UpdateInstance"] != 1 || st.Calls["ApplyCertificate"] != 0 {
		t.Fatalf("something was submitted: %v", st.Calls)
	}
	for _, i := range st.Instances {
		if i.Domain != "" {
			t.Fatalf("an application was written onto %+v", i)
		}
	}
}

func TestSimInstanceNoneUsable(t *testing.T) {
	_, url := instanceSim(t, 0, nil)
	sg := newInstanceSigner(t, instanceConfig(url))
	h, err := sg.Check(context.Background())
	if err != nil || *h.UsableInstances != 0 {
		t.Fatalf("health %+v %v", h, err)
	}
	out, err := sg.Sign(context.Background(), signer.Request{Name: "a", CSRPEM: csrFor(t, rsaKey(t), "a.example.com")}, &memStore{})
	if err != nil || out.Pending == nil || out.Pending.Reason != signer.ReasonNoUsableInstance || !strings.Contains(out.Pending.Message, "0 DV instances (none)") {
		t.Fatalf("got %+v %v", out.Pending, err)
	}
}

// The calls one certificate costs at 0 s validation delay, counted by the simulator.
func TestSimInstanceCallsPerCertificate(t *testing.T) {
	const n = 10
	sim, url := instanceSim(t, n, func(c *aliyunsim.Config) { c.V2.RecordsDelay = time.Microsecond })
	sg := newInstanceSigner(t, instanceConfig(url))
	for i := range n {
		name := fmt.Sprintf("n%d.example.com", i)
		if _, err := drive(t, sg, signer.Request{Name: name, Owner: "default/" + name, CSRPEM: csrFor(t, rsaKey(t), name)}, &memStore{}, 20*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	st := sim.State()
	total := 0
	for _, c := range st.Calls {
		total += c
	}
	perCert := float64(total-st.Calls["ListContact"]-st.Calls["CreateContact"]) / n
	t.Logf("%d certificates: %d calls (%.1f per certificate, contacts aside): %v", n, total, perCert, st.Calls)
	// UpdateInstance, the re-read, ApplyCertificate, GetInstanceDetail, GetUserCertificateDetail,
	// and once for the account the listing.
	if perCert > 5.5 {
		t.Errorf("%.1f calls per certificate", perCert)
	}
}

// HTTP (file) validation: the condition names the URL and the content; serving it issues.
func TestSimInstanceFileValidation(t *testing.T) {
	sim, url := instanceSim(t, 1, func(c *aliyunsim.Config) { c.Validation = aliyunsim.ValidationDNS })
	cfg := instanceConfig(url)
	cfg.ValidationMethod = "FILE"
	sg := newInstanceSigner(t, cfg)
	store := &memStore{}
	req := signer.Request{Name: "files-1", Owner: "default/files", CSRPEM: csrFor(t, rsaKey(t), "files.example.com")}
	var p *signer.Pending
	deadline := time.Now().Add(10 * time.Second)
	for p == nil || p.Reason != signer.ReasonDomainVerify {
		req.State = store.get()
		out, err := sg.Sign(context.Background(), req, store)
		if err != nil {
			t.Fatal(err)
		}
		p = out.Pending
		if time.Now().After(deadline) {
			t.Fatalf("no validation pending: %+v", p)
		}
		time.Sleep(20 * time.Millisecond)
	}
	v := p.Validation
	want := "serve http://files.example.com/.well-known/pki-validation/fileauth.txt with content " + v.FileContent
	if v.Method != "FILE" || v.FileContent == "" || !strings.HasPrefix(p.Message, want) {
		t.Fatalf("pending %q (validation %+v)", p.Message, v)
	}
	if err := sim.PutFile(v.FileURL, v.FileContent); err != nil {
		t.Fatal(err)
	}
	out, err := drive(t, sg, req, store, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, out, rsaKey(t), "files.example.com")
}

// TestSimInstanceContactMadeByAnotherIssuer: issuers of one account that
// share spec.contact resolve it at the same time; the ones whose
// CreateContact meets the contact another just made (AlreadyExists.Email)
// take that contact instead of failing.
func TestSimInstanceContactMadeByAnotherIssuer(t *testing.T) {
	const issuers = 6
	sim, url := instanceSim(t, issuers, nil)
	start := make(chan struct{})
	errs := make(chan error, issuers)
	insts := sim.State().Instances
	for i := range issuers {
		// An instance of its own each: which instances other requests hold
		// is the controller's to say, and the concern here is the contact.
		cfg := instanceConfig(url)
		cfg.Instance.InstanceIDs = []string{insts[i].ID}
		sg := newInstanceSigner(t, cfg)
		name := fmt.Sprintf("c%d.example.com", i)
		csr := csrFor(t, ecKey(t, elliptic.P256()), name)
		go func() {
			<-start
			_, err := drive(t, sg, signer.Request{Name: name, Owner: name, CSRPEM: csr}, &memStore{}, 20*time.Second)
			errs <- err
		}()
	}
	close(start)
	for range issuers {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	// The simulator refuses a second contact with one e-mail, so one
	// contact serves them all.
	if n := sim.State().Calls["CreateContact"]; n < 1 {
		t.Fatalf("%d CreateContact calls", n)
	}
}

// TestSimInstanceTwoIssuersOfOneAccount: two issuers with the same account
// (a ClusterIssuer and an Issuer sharing an AccessKey) sign at the same
// moment; each request gets an instance of its own, though neither's state
// is visible to the other yet.
func TestSimInstanceTwoIssuersOfOneAccount(t *testing.T) {
	sim, url := instanceSim(t, 2, nil)
	start := make(chan struct{})
	errs := make(chan error, 2)
	for i := range 2 {
		sg := newInstanceSigner(t, instanceConfig(url))
		name := fmt.Sprintf("i%d.example.com", i)
		csr := csrFor(t, ecKey(t, elliptic.P256()), name)
		go func() {
			<-start
			_, err := drive(t, sg, signer.Request{Name: name, Owner: name, CSRPEM: csr}, &memStore{}, 20*time.Second)
			errs <- err
		}()
	}
	close(start)
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	per, total := applications(sim)
	if total != 2 || len(per) != 2 {
		t.Fatalf("applications %v (%d in all), want one on each of the 2 instances", per, total)
	}
	for id, n := range per {
		if n != 1 {
			t.Errorf("instance %s: %d applications, want 1", id, n)
		}
	}
}

// TestSimInstanceAutoReissue: the issuer owns renewal, so UpdateInstance says AutoReissue=disable
// unless spec.instance.autoReissue asks Alibaba Cloud to renew by itself.
func TestSimInstanceAutoReissue(t *testing.T) {
	for _, tc := range []struct {
		auto bool
		want string
	}{{false, "disable"}, {true, "enable"}} {
		t.Run(tc.want, func(t *testing.T) {
			sim, url := instanceSim(t, 1, nil)
			cfg := instanceConfig(url)
			cfg.Instance.AutoReissue = tc.auto
			issue(t, sim, newInstanceSigner(t, cfg), "default/web", rsaKey(t), "web.example.com")
			c, err := aliyun.New(aliyun.Options{
				Endpoint: url, Credentials: aliyun.Credentials{AccessKeyID: simKeyID, AccessKeySecret: simSecret},
				Endpoints: aliyun.EndpointPolicy{AllowInsecure: true}, // the simulator serves http
			})
			if err != nil {
				t.Fatal(err)
			}
			var d struct{ AutoReissue string }
			id := sim.State().Instances[0].ID
			if err := c.Call(context.Background(), aliyun.CAS, "GetInstanceDetail", map[string]string{"InstanceId": id}, &d); err != nil {
				t.Fatal(err)
			}
			if d.AutoReissue != tc.want {
				t.Errorf("instance %s: AutoReissue %q, want %q", id, d.AutoReissue, tc.want)
			}
		})
	}
}
