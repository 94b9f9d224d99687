package signer

import (
	"context"
	"strings"
	"testing"
)

// TestInstanceUnusableCertificateIsLookedAtAgain: an issued application whose certificate CAS
// answers unusable is looked at again later, never a failure that makes cert-manager apply
// anew for a certificate CAS has; nothing is written onto the instance.
func TestInstanceUnusableCertificateIsLookedAtAgain(t *testing.T) {
	key := rsaKey(t, 2048)
	csr := simpleCSR(t, key, "www.example.com", "www.example.com")
	r := newReplay(t, map[string][]reply{
		"GetInstanceDetail": {ok(jsonBody(map[string]any{
			"InstanceId": "cas-ins-1", "Status": "normal", "CertificateId": "2002", "CertificateStatus": "issued", "Csr": string(csr),
		}))},
		"GetUserCertificateDetail": {ok(jsonBody(map[string]any{"Id": 2002, "Cert": "oops"}))},
	})
	cfg := testConfig(r.URL)
	cfg.OrderAPI = OrderAPIInstance
	sg, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	orderedAt := t0
	req := Request{Name: "default/www", CSRPEM: csr, State: OrderState{
		InstanceID: "cas-ins-1", OrderedAt: &orderedAt, Submitted: true, PreviousCertificateID: "1001", CSRDigest: csrDigest(string(csr)),
	}}
	_, err = sg.Sign(context.Background(), req, &recStore{})
	te, ok := AsTransient(err)
	if !ok || te.Reason != ReasonBadChain || !strings.Contains(te.Error(), "2002") || te.RetryAfter <= 0 {
		t.Fatalf("got %v, want a transient %s to look again", err, ReasonBadChain)
	}
	for _, a := range []string{"UpdateInstance", "ApplyCertificate", "CancelPendingCertificate"} {
		if n := r.count(a); n != 0 {
			t.Errorf("%s called %d times: %v", a, n, r.actions())
		}
	}
}
