package controllers

import (
	"bytes"
	"testing"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// TestOrderOrigin: what an order was placed with is recorded with the
// state, covered by its MAC, and absent in state recorded before it was
// (which stays trusted and means the issuer's current origin).
func TestOrderOrigin(t *testing.T) {
	k := stateKey(bytes.Repeat([]byte{7}, stateKeyBytes))
	at := orderOrigin{api: signer.OrderAPICSR, endpoint: "https://cas.aliyuncs.com"}
	now := orderOrigin{api: signer.OrderAPIInstance, endpoint: "https://cas.ap-southeast-1.aliyuncs.com"}

	cr := &cmapi.CertificateRequest{}
	cr.UID, cr.Namespace, cr.Name = "uid-a", "team-a", "web"
	k.storeTrusted(cr, at.stamp(signer.OrderState{OrderID: "42"}))
	st, trust := k.load(cr)
	if trust != stateTrusted || recordedOrigin(st, now) != at {
		t.Fatalf("recorded origin %+v (trust %d), want %+v", recordedOrigin(st, now), trust, at)
	}
	// The origin is part of what the MAC covers.
	edited := cr.DeepCopy()
	edited.Annotations[v1alpha1.AnnotationOrderState] = `{"orderAPI":"Instance","endpoint":"https://cas.aliyuncs.com"}`
	if _, trust := k.load(edited); trust != stateUntrusted {
		t.Errorf("state with an edited origin is trusted")
	}
	// The status mirror carries it too.
	k.mirror(cr, st)
	if m, ok := k.mirrored(cr); !ok || recordedOrigin(m, now) != at {
		t.Errorf("mirrored origin %+v (valid %v)", recordedOrigin(m, now), ok)
	}

	// State without an origin: trusted, the issuer's current origin.
	old := &cmapi.CertificateRequest{}
	old.UID, old.Namespace, old.Name = "uid-b", "team-a", "api"
	k.storeTrusted(old, signer.OrderState{OrderID: "43"})
	st, trust = k.load(old)
	if trust != stateTrusted || recordedOrigin(st, now) != now {
		t.Errorf("state without an origin: trust %d, origin %+v", trust, recordedOrigin(st, now))
	}
	// Emptied state drops the origin: the next order is placed afresh.
	if e := at.stamp(signer.OrderState{}); e.OrderAPI != "" || e.Endpoint != "" {
		t.Errorf("empty state keeps an origin: %+v", e)
	}
	// What is left to give back keeps it.
	if r := recordsOnly(signer.OrderState{OrderID: "1", ValidationRecords: []string{"r"}, OrderAPI: at.api, Endpoint: at.endpoint}); r.OrderID != "" || r.OrderAPI != at.api || r.Endpoint != at.endpoint {
		t.Errorf("recordsOnly gave %+v", r)
	}
}
