package signer_test

import (
	"context"
	"errors"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Automatic DNS validation through Alidns against the simulator in "dns"
// validation mode: orders are validated only once the TXT record exists.

func alidnsSim(t *testing.T, zones ...string) (*aliyunsim.Simulator, signer.Config) {
	t.Helper()
	sim, url := startSim(t, aliyunsim.Config{
		Packages:     map[string]aliyunsim.Package{"globalsign-dv-w-advanced": {Quota: 20, MaxNames: 5}},
		Validation:   aliyunsim.ValidationDNS,
		Zones:        zones,
		ForeignZones: []string{"foreign.org"},
		DNSListen:    "127.0.0.1:0",
	})
	cfg := simConfig(url)
	cfg.ProductCode = "globalsign-dv-w-advanced" // several names per certificate
	cfg.DNS = signer.DNSConfig{Provider: signer.DNSProviderAlidns, Endpoint: url, Nameservers: []string{sim.DNSAddr()}}
	return sim, cfg
}

func recordsOf(sim *aliyunsim.Simulator) []aliyunsim.RecordState { return sim.State().Records }

func TestAlidnsIssuesAndCleansUp(t *testing.T) {
	sim, cfg := alidnsSim(t, "example.com", "sub.example.com")
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	store := &memStore{}
	req := signer.Request{CSRPEM: csrFor(t, key, "www.example.com", "www.example.com", "api.sub.example.com")}
	res, err := sg.Sign(context.Background(), req, store)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pending
	if p == nil || p.Reason != signer.ReasonDomainVerify {
		t.Fatalf("got %+v", res)
	}
	recs := recordsOf(sim)
	if len(recs) != 1 || recs[0].Zone != "example.com" || recs[0].RR != "_dnsauth.www" || recs[0].Type != "TXT" {
		t.Fatalf("records %+v", recs)
	}
	want := "created DNS TXT record _dnsauth.www.example.com in Alidns zone example.com; waiting for CAS to validate (visible at " + sim.DNSAddr() + ")"
	if !strings.HasPrefix(p.Message, want) {
		t.Fatalf("message %q, want prefix %q", p.Message, want)
	}
	if st := store.get(); len(st.ValidationRecords) != 1 || !strings.Contains(st.ValidationRecords[0], "id="+recs[0].ID) {
		t.Fatalf("state %+v", st)
	}
	res, err = drive(t, sg, req, store, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, res, key, "www.example.com", "api.sub.example.com")
	if recs := recordsOf(sim); len(recs) != 0 {
		t.Fatalf("records left after issuance: %+v", recs)
	}
	if st := store.get(); len(st.ValidationRecords) != 0 {
		t.Fatalf("state still lists records: %+v", st)
	}
	st := sim.State()
	if st.Calls["AddDomainRecord"] != 2 || st.Calls["DeleteDomainRecord"] != 2 {
		t.Fatalf("calls %+v", st.Calls)
	}
	if !strings.Contains(strings.Join(res.Notes, "; "), "DNS TXT record _dnsauth.api.sub.example.com (id") {
		t.Fatalf("notes %q", res.Notes)
	}
}

func TestAlidnsNoZoneNothingOrdered(t *testing.T) {
	for _, name := range []string{"www.other.net", "www.foreign.org"} {
		t.Run(name, func(t *testing.T) {
			sim, cfg := alidnsSim(t, "example.com")
			sg, err := signer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			_, err = sg.Sign(context.Background(), signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.example.com", "www.example.com", name)}, &memStore{})
			pe, ok := signer.AsPermanent(err)
			if !ok || pe.Reason != signer.ReasonDNSZoneNotFound || !strings.Contains(err.Error(), "no Alidns zone of this account covers "+name) {
				t.Fatalf("got %v", err)
			}
			st := sim.State()
			if st.Calls["CreateCertificateWithCsrRequest"] != 0 || len(st.Orders) != 0 || len(st.Records) != 0 {
				t.Fatalf("something was ordered or created: calls %+v", st.Calls)
			}
		})
	}
}

// crashAfterAddStore fails the first Save that records an Alidns record id, as
// if the manager stopped right after AddDomainRecord.
type crashAfterAddStore struct {
	memStore
	failed bool
}

func (f *crashAfterAddStore) Save(ctx context.Context, st signer.OrderState) error {
	if !f.failed {
		for _, r := range st.ValidationRecords {
			if strings.Contains(r, "id=") {
				f.failed = true
				return errors.New("manager stopped")
			}
		}
	}
	return f.memStore.Save(ctx, st)
}

func TestAlidnsCrashAfterRecordCreation(t *testing.T) {
	sim, cfg := alidnsSim(t, "example.com")
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &crashAfterAddStore{}
	req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.example.com")}
	_, err = sg.Sign(context.Background(), req, store)
	if te, ok := signer.AsTransient(err); !ok || te.Reason != signer.ReasonStateNotSaved {
		t.Fatalf("got %v", err)
	}
	if recs := recordsOf(sim); len(recs) != 1 {
		t.Fatalf("records %+v", recs)
	}
	st := store.get()
	if len(st.ValidationRecords) != 1 || strings.Contains(st.ValidationRecords[0], "id=") {
		t.Fatalf("the intent should be saved without an id: %+v", st)
	}
	// A new signer (a restarted manager) resumes from the saved state.
	sg2, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := drive(t, sg2, req, &store.memStore, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	s := sim.State()
	if len(s.Records) != 0 || s.Calls["AddDomainRecord"] != 1 || s.Calls["DeleteDomainRecord"] != 1 {
		t.Fatalf("records %+v calls %+v", s.Records, s.Calls)
	}
}

func TestAlidnsCancelDeletesRecordsIntentToo(t *testing.T) {
	sim, cfg := alidnsSim(t, "example.com")
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &crashAfterAddStore{}
	req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.example.com")}
	if _, err := sg.Sign(context.Background(), req, store); err == nil {
		t.Fatal("want the save failure")
	}
	// Only the intent is saved; cancelling finds the record by value.
	if _, err := sg.Cancel(context.Background(), store.get()); err != nil {
		t.Fatal(err)
	}
	s := sim.State()
	if len(s.Records) != 0 || len(orders2020(s)) != 0 {
		t.Fatalf("records %+v orders %+v", s.Records, s.Orders)
	}
}

// Two requests for the same name at once: each has its own token and
// record, and finishing one leaves the other's record alone.
func TestAlidnsSameNameTwice(t *testing.T) {
	sim, cfg := alidnsSim(t, "example.com")
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	reqA := signer.Request{CSRPEM: csrFor(t, key, "www.example.com")}
	reqB := signer.Request{CSRPEM: csrFor(t, key, "www.example.com")}
	storeA, storeB := &memStore{}, &memStore{}
	for _, x := range []struct {
		req   signer.Request
		store *memStore
	}{{reqA, storeA}, {reqB, storeB}} {
		res, err := sg.Sign(context.Background(), x.req, x.store)
		if err != nil || res.Pending == nil {
			t.Fatalf("%+v %v", res, err)
		}
	}
	if recs := recordsOf(sim); len(recs) != 2 || recs[0].Value == recs[1].Value {
		t.Fatalf("records %+v", recs)
	}
	if _, err := drive(t, sg, reqA, storeA, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	recs := recordsOf(sim)
	if len(recs) != 1 || !strings.Contains(strings.Join(storeB.get().ValidationRecords, " "), "id="+recs[0].ID) {
		t.Fatalf("B's record should remain: %+v", recs)
	}
	if _, err := drive(t, sg, reqB, storeB, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if recs := recordsOf(sim); len(recs) != 0 {
		t.Fatalf("records left %+v", recs)
	}
}

// Many requests in one zone at once: all issue, no record is left.
func TestAlidnsConcurrent(t *testing.T) {
	sim, cfg := alidnsSim(t, "example.com")
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	key := rsaKey(t)
	var wg sync.WaitGroup
	errs := make(chan error, 6)
	for _, n := range []string{"a", "b", "c", "a", "b", "c"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := drive(t, sg, signer.Request{CSRPEM: csrFor(t, key, n+".example.com")}, &memStore{}, 30*time.Second)
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if s := sim.State(); len(s.Records) != 0 || s.Calls["AddDomainRecord"] != 6 {
		t.Fatalf("records %+v calls %+v", s.Records, s.Calls)
	}
}

// The propagation check: while the name server does not answer with the
// value, the order waits for it (reason DNSPropagation, a short retry).
func TestAlidnsPropagationCheck(t *testing.T) {
	sim, cfg := alidnsSim(t, "example.com")
	// A name server that never answers.
	mute, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer mute.Close()
	cfg.DNS.Nameservers = []string{mute.LocalAddr().String()}
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.example.com")}
	res, err := sg.Sign(context.Background(), req, store)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pending
	if p == nil || p.Reason != signer.ReasonDNSPropagation || p.RetryAfter > 10*time.Second ||
		!strings.Contains(p.Message, "waiting for it to be visible at the name servers") || !strings.Contains(p.Message, mute.LocalAddr().String()+": no answer") {
		t.Fatalf("got %+v", p)
	}
	// The simulator's own name server answers with the record.
	cfg.DNS.Nameservers = []string{sim.DNSAddr()}
	sg2, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req.State = store.get()
	res, err = sg2.Sign(context.Background(), req, store)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pending != nil && (res.Pending.Reason == signer.ReasonDNSPropagation || !strings.Contains(res.Pending.Message, "visible at "+sim.DNSAddr())) {
		t.Fatalf("got %+v", res.Pending)
	}
	if s := sim.State(); s.Calls["AddDomainRecord"] != 1 {
		t.Fatalf("calls %+v", s.Calls)
	}
}

// A delegated sub-zone of the account (dev.example.com as its own Alidns
// zone, next to example.com): a record whose id was lost is found again in
// the sub-zone and cleaned up. Without DomainName, Alidns would search
// example.com and never find it.
func TestAlidnsDelegatedSubZoneRecovery(t *testing.T) {
	for _, name := range []string{"resume", "cancel"} {
		t.Run(name, func(t *testing.T) {
			sim, cfg := alidnsSim(t, "example.com", "dev.example.com")
			sg, err := signer.New(cfg)
			if err != nil {
				t.Fatal(err)
			}
			store := &crashAfterAddStore{}
			req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.dev.example.com")}
			if _, err := sg.Sign(context.Background(), req, store); err == nil {
				t.Fatal("want the save failure")
			}
			if recs := recordsOf(sim); len(recs) != 1 || recs[0].Zone != "dev.example.com" {
				t.Fatalf("records %+v", recs)
			}
			if name == "cancel" {
				if _, err := sg.Cancel(context.Background(), store.get()); err != nil {
					t.Fatal(err)
				}
			} else if _, err := drive(t, sg, req, &store.memStore, 20*time.Second); err != nil {
				t.Fatal(err)
			}
			s := sim.State()
			if len(s.Records) != 0 || s.Calls["AddDomainRecord"] != 1 || s.Calls["DeleteDomainRecord"] != 1 {
				t.Fatalf("records %+v calls %+v", s.Records, s.Calls)
			}
		})
	}
}

// CAS may ask for a CNAME proof, named zone-relative ("_dnsauth.www.dev"):
// the Alidns provider creates the CNAME at _dnsauth.www.dev.example.com
// (labels not doubled), the order issues, and the record is removed.
func TestAlidnsCNAMEProofRelativeName(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{
		Validation:       aliyunsim.ValidationDNS,
		Zones:            []string{"example.com"},
		RecordDomainForm: aliyunsim.RecordDomainRelative,
		DNSRecordType:    "CNAME",
	})
	cfg := simConfig(url)
	cfg.DNS = signer.DNSConfig{Provider: signer.DNSProviderAlidns, Endpoint: url}
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	store := &memStore{}
	req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), "www.dev.example.com")}
	if res, err := sg.Sign(context.Background(), req, store); err != nil || res.Pending == nil {
		t.Fatalf("want pending: %+v %v", res, err)
	}
	recs := recordsOf(sim)
	if len(recs) != 1 || recs[0].Type != "CNAME" || recs[0].RR != "_dnsauth.www.dev" || recs[0].Zone != "example.com" {
		t.Fatalf("records %+v", recs)
	}
	if _, err := drive(t, sg, req, store, 20*time.Second); err != nil {
		t.Fatal(err)
	}
	if recs := recordsOf(sim); len(recs) != 0 {
		t.Fatalf("records left: %+v", recs)
	}
}
