package signer_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The DV flow with automatic DNS validation through Alidns, against the
// simulator in "dns" validation mode.

func newDVAlidnsSim(t *testing.T, instances int, zones ...string) (*aliyunsim.Simulator, signer.Signer) {
	t.Helper()
	sim, url := startSim(t, aliyunsim.Config{
		DVInstances: instances,
		Validation:  aliyunsim.ValidationDNS,
		Zones:       zones,
		DNSListen:   "127.0.0.1:0",
	})
	cfg := dvSimConfig(url)
	cfg.DNS = signer.DNSConfig{Provider: signer.DNSProviderAlidns, Endpoint: url, Nameservers: []string{sim.DNSAddr()}}
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return sim, sg
}

func TestSimDVAlidnsIssuesWithoutHumanStep(t *testing.T) {
	sim, sg := newDVAlidnsSim(t, 2, "example.com")
	store := &memStore{}
	req := signer.Request{Name: "web", CSRPEM: csrFor(t, rsaKey(t), "www.example.com"), NextPrivateKeySecret: "next-key"}

	res, err := sg.Sign(context.Background(), req, store)
	if err != nil {
		t.Fatal(err)
	}
	p := res.Pending
	if p == nil || p.Reason != signer.ReasonDomainVerify {
		t.Fatalf("got %+v", res)
	}
	recs := sim.State().Records
	if len(recs) != 1 || recs[0].Zone != "example.com" || recs[0].Type != "TXT" || recs[0].RR != "_dnsauth.www" {
		t.Fatalf("records %+v", recs)
	}
	st := store.get()
	want := "created DNS TXT record _dnsauth.www.example.com in Alidns zone example.com; waiting for CAS to validate"
	if !strings.HasPrefix(p.Message, want) || !strings.Contains(p.Message, "the DV order on CAS instance "+st.InstanceID+" waits for domain validation of") {
		t.Fatalf("message %q, want prefix %q", p.Message, want)
	}
	if len(st.ValidationRecords) != 1 || !strings.Contains(st.ValidationRecords[0], "id="+recs[0].ID) {
		t.Fatalf("state %+v", st)
	}

	res, err = driveDV(t, sg, req, store, store.get, 20*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if res.Kind != signer.OutcomeAdoptKey || res.AdoptKey.InstanceID != st.InstanceID {
		t.Fatalf("no adoption: %+v", res)
	}
	s := sim.State()
	if len(s.Records) != 0 {
		t.Fatalf("records left after issuance: %+v", s.Records)
	}
	if got := store.get().ValidationRecords; len(got) != 0 {
		t.Fatalf("state still lists records: %v", got)
	}
	if s.Calls["CreateDVOrderAudit"] != 1 || s.Calls["AddDomainRecord"] != 1 || s.Calls["DeleteDomainRecord"] != 1 {
		t.Fatalf("calls %+v", s.Calls)
	}
	if !strings.Contains(strings.Join(res.Notes, "; "), "from Alidns") {
		t.Fatalf("notes %q", res.Notes)
	}

	// The request cert-manager builds from the adopted key is issued from
	// the same instance, with no new order or record.
	key := parseKey(t, res.AdoptKey.KeyPEM)
	repl := &memStore{}
	req2 := signer.Request{Name: "web-2", CSRPEM: csrFor(t, key, "www.example.com"), NextPrivateKeySecret: "next-key", AdoptedInstanceID: res.AdoptKey.InstanceID}
	res2, err := driveDV(t, sg, req2, repl, repl.get, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, res2, key, "www.example.com")
	if s := sim.State(); s.Calls["CreateDVOrderAudit"] != 1 || s.Calls["AddDomainRecord"] != 1 {
		t.Fatalf("calls %+v", s.Calls)
	}
}

func TestSimDVAlidnsNoZoneNothingOrdered(t *testing.T) {
	sim, sg := newDVAlidnsSim(t, 1, "example.com")
	store := &memStore{}
	req := signer.Request{Name: "web", CSRPEM: csrFor(t, rsaKey(t), "www.elsewhere.net"), NextPrivateKeySecret: "next-key"}
	_, err := sg.Sign(context.Background(), req, store)
	pe, ok := signer.AsPermanent(err)
	if !ok || pe.Reason != signer.ReasonDNSZoneNotFound || !strings.Contains(err.Error(), "www.elsewhere.net") {
		t.Fatalf("got %v", err)
	}
	s := sim.State()
	if s.Calls["CreateDVOrderAudit"] != 0 || len(s.Records) != 0 {
		t.Fatalf("calls %+v records %+v", s.Calls, s.Records)
	}
	if len(s.DVInstances) != 1 || s.DVInstances[0].Status != "PAYED" {
		t.Fatalf("instances %+v", s.DVInstances)
	}
	if st := store.get(); st.InstanceID != "" || st.Creating != nil || st.OrderedAt != nil {
		t.Fatalf("state %+v", st)
	}
	// The instance is not held: a request the account can validate gets it.
	other := &memStore{}
	req2 := signer.Request{Name: "ok", CSRPEM: csrFor(t, rsaKey(t), "www.example.com"), NextPrivateKeySecret: "next-key"}
	res, err := sg.Sign(context.Background(), req2, other)
	if err != nil || res.Pending == nil || res.Pending.Reason != signer.ReasonDomainVerify || other.get().InstanceID != s.DVInstances[0].ID {
		t.Fatalf("got %+v, %v, state %+v", res.Pending, err, other.get())
	}
}

func TestSimDVAlidnsCancelRemovesRecords(t *testing.T) {
	sim, sg := newDVAlidnsSim(t, 1, "example.com")
	store := &memStore{}
	req := signer.Request{Name: "web", CSRPEM: csrFor(t, rsaKey(t), "www.example.com"), NextPrivateKeySecret: "next-key"}
	if _, err := sg.Sign(context.Background(), req, store); err != nil {
		t.Fatal(err)
	}
	if recs := sim.State().Records; len(recs) != 1 {
		t.Fatalf("records %+v", recs)
	}
	if _, err := sg.Cancel(context.Background(), store.get()); err != nil {
		t.Fatal(err)
	}
	s := sim.State()
	if len(s.Records) != 0 || s.Calls["DeleteDomainRecord"] != 1 {
		t.Fatalf("records %+v calls %+v", s.Records, s.Calls)
	}
}
