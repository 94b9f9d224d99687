package controllers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Whoever may create or update a CertificateRequest may write its
// annotations, so the order state there is trusted only with a MAC the
// controller computed: HMAC-SHA256, with the order state key, over the
// request's UID, kind, namespace/name and the canonical state. State copied
// from another request (another UID), written at creation by the requester
// (no key) or edited afterwards (MAC mismatch) is "no state".
//
// The controller also mirrors the state, with its MAC, into a condition of
// the request's status, in the status writes it makes anyway: the status
// subresource is not the requester's to write, so a request whose
// annotations were erased or forged recovers its state from there instead
// of ordering again.

// stateKey authenticates order state.
type stateKey []byte

// Where a MAC'd state lives; part of the MAC, so that one cannot stand for
// the other.
const (
	placeAnnotations = "annotations"
	placeStatus      = "status"
	placeAdoptedKey  = "adopted-key"
)

// conditionOrderState is the status condition mirroring the order state.
const conditionOrderState cmapi.CertificateRequestConditionType = v1alpha1.AnnotationPrefix + "OrderState"

// reasonUntrustedOrderState: the request carries order state the
// controller did not write for it; the state is ignored.
const reasonUntrustedOrderState = "UntrustedOrderState"

// macInput is what a MAC covers, in a fixed field order.
type macInput struct {
	Version           int      `json:"v"`
	Place             string   `json:"place"`
	UID               string   `json:"uid"`
	Kind              string   `json:"kind"`
	Object            string   `json:"object"`
	OrderID           string   `json:"orderID"`
	InstanceID        string   `json:"instanceID"`
	Creating          string   `json:"creating"`
	OrderedAt         string   `json:"orderedAt"`
	ValidationRecords []string `json:"validationRecords"`
	// EmptyListings is left out when zero, so that the MAC of state
	// without it is unchanged.
	EmptyListings int `json:"emptyListings,omitempty"`
	// The subscription-instance flow's fields; absent when empty, so that other states'
	// MACs are what they were.
	PreviousCertificateID string `json:"previousCertificateID,omitempty"`
	CSRDigest             string `json:"csrDigest,omitempty"`
	Submitted             bool   `json:"submitted,omitempty"`
	// What the order was placed with; absent in state recorded before
	// it was, whose MACs are unchanged.
	OrderAPI string `json:"orderAPI,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
}

func (k stateKey) sum(place, uid, kind, object string, st signer.OrderState) string {
	in := macInput{Version: 1, Place: place, UID: uid, Kind: kind, Object: object,
		OrderID: st.OrderID, InstanceID: st.InstanceID, ValidationRecords: st.ValidationRecords, EmptyListings: st.EmptyListings,
		PreviousCertificateID: st.PreviousCertificateID, CSRDigest: st.CSRDigest, Submitted: st.Submitted,
		OrderAPI: st.OrderAPI, Endpoint: st.Endpoint}
	if st.Creating != nil {
		// As stored: second precision, rounded down.
		in.Creating = st.Creating.UTC().Format(time.RFC3339)
	}
	if st.OrderedAt != nil {
		in.OrderedAt = st.OrderedAt.UTC().Format(time.RFC3339Nano)
	}
	b, _ := json.Marshal(in)
	m := hmac.New(sha256.New, k)
	m.Write(b)
	return "v1:" + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// requestMAC is the MAC of a request's state in place; the request is a
// CertificateRequest or a CertificateSigningRequest (kind by its Go type:
// typed objects read from the API server carry no kind).
func (k stateKey) requestMAC(place string, obj client.Object, st signer.OrderState) string {
	kind := reflect.TypeOf(obj).Elem().Name()
	return k.sum(place, string(obj.GetUID()), kind, obj.GetNamespace()+"/"+obj.GetName(), st)
}

func (k stateKey) valid(mac, want string) bool {
	return mac != "" && hmac.Equal([]byte(mac), []byte(want))
}

// stateTrust says what a request's annotations hold.
type stateTrust int

const (
	// stateAbsent: no order state annotations at all.
	stateAbsent stateTrust = iota
	// stateTrusted: state with a valid MAC for this very request.
	stateTrusted
	// stateUntrusted: state without a valid MAC for this request.
	stateUntrusted
)

// hasStateAnnotations reports whether a request carries any annotation of
// the order state.
func hasStateAnnotations(obj metav1.Object) bool {
	a := obj.GetAnnotations()
	for _, k := range []string{v1alpha1.AnnotationOrderID, v1alpha1.AnnotationInstanceID, v1alpha1.AnnotationCreating,
		v1alpha1.AnnotationOrderState, v1alpha1.AnnotationStateMAC} {
		if _, ok := a[k]; ok {
			return true
		}
	}
	return false
}

// load reads the order state a request's annotations hold, and whether the
// controller can tell it wrote it for this request. Untrusted state is
// returned empty.
func (k stateKey) load(obj client.Object) (signer.OrderState, stateTrust) {
	if !hasStateAnnotations(obj) {
		return signer.OrderState{}, stateAbsent
	}
	st := loadState(obj)
	if !k.valid(obj.GetAnnotations()[v1alpha1.AnnotationStateMAC], k.requestMAC(placeAnnotations, obj, st)) {
		return signer.OrderState{}, stateUntrusted
	}
	return st, stateTrusted
}

// trusted is the order state the controller may act on: the annotations'
// when trusted (or the status mirror's when it follows them), else the
// status mirror's (when valid), else none. repair says the annotations
// must be rewritten; untrusted says they held state the controller did not
// write.
func (k stateKey) trusted(cr *cmapi.CertificateRequest) (st signer.OrderState, repair, untrusted bool) {
	st, trust := k.load(cr)
	if trust == stateTrusted {
		if m, ok := k.mirrored(cr); ok && follows(m, st) {
			// Not a repair: the annotations catch up with the attempt's
			// next patch of them, at the latest the finalizer's removal.
			return m, false, false
		}
		return st, false, false
	}
	m, ok := k.mirrored(cr)
	if ok {
		st = m
	}
	return st, trust == stateUntrusted || !stateEmpty(st), trust == stateUntrusted
}

// follows reports whether m, the state mirrored in the status, is the
// successor of a, the annotations' state: the state the signer learned from
// the answer to the create that a's creating mark announced
// (signer.StateStore.Learn), which a status write carried and no patch of
// the annotations yet. Both are MAC'd for this very request (UID, place),
// so neither comes from another request or from the requester. An older
// mirror never follows: m must record an order (or submission) dated by
// a's very creating mark, which the signer saved before that create, so
// m was written after it; and it must name the same instance, CSR and
// origin. Anything the signer saves after the create carries the order
// too, so annotations with a creating mark and no order id are never
// ahead of a mirror that follows them.
func follows(m, a signer.OrderState) bool {
	if a.Creating == nil || m.Creating != nil || m.OrderedAt == nil {
		return false
	}
	// The signer dates an order by the creating mark of its create.
	if !m.OrderedAt.UTC().Truncate(time.Second).Equal(a.Creating.UTC().Truncate(time.Second)) {
		return false
	}
	if m.OrderID == "" && m.InstanceID == "" {
		return false
	}
	return (a.OrderID == "" || a.OrderID == m.OrderID) && a.InstanceID == m.InstanceID &&
		a.CSRDigest == m.CSRDigest && a.OrderAPI == m.OrderAPI && a.Endpoint == m.Endpoint
}

// recorded is the order state o holds in a form the controller trusts:
// its trusted annotations', or the status mirror's when that follows them.
func (k stateKey) recorded(o client.Object) (signer.OrderState, bool) {
	st, trust := k.load(o)
	if trust != stateTrusted {
		return signer.OrderState{}, false
	}
	if cr, ok := o.(*cmapi.CertificateRequest); ok {
		if m, ok := k.mirrored(cr); ok && follows(m, st) {
			return m, true
		}
	}
	return st, true
}

// mirrorState is the JSON of the status condition: the state and its MAC.
type mirrorState struct {
	signer.OrderState
	MAC string `json:"mac"`
}

// secondsOnly rounds the creating mark down to the second, as stored.
func secondsOnly(st signer.OrderState) signer.OrderState {
	if st.Creating != nil {
		t := st.Creating.UTC().Truncate(time.Second)
		st.Creating = &t
	}
	return st
}

// mirrored is the state of the status condition, when its MAC is valid
// for this request.
func (k stateKey) mirrored(cr *cmapi.CertificateRequest) (signer.OrderState, bool) {
	m, ok := mirrorOf(cr)
	if !ok {
		return signer.OrderState{}, false
	}
	st := secondsOnly(m.OrderState)
	if !k.valid(m.MAC, k.requestMAC(placeStatus, cr, st)) {
		return signer.OrderState{}, false
	}
	return st, true
}

// mirrorOf is the status condition's content, unchecked (for the indexes,
// whose hits are checked by stateKey.records).
func mirrorOf(cr *cmapi.CertificateRequest) (mirrorState, bool) {
	c := requestCondition(cr, conditionOrderState)
	if c == nil {
		return mirrorState{}, false
	}
	var m mirrorState
	if err := json.Unmarshal([]byte(c.Message), &m); err != nil {
		return mirrorState{}, false
	}
	return m, true
}

// mirror sets the status condition to st (in memory), for a status write
// made anyway. It reports whether the condition changed.
func (k stateKey) mirror(cr *cmapi.CertificateRequest, st signer.OrderState) bool {
	st = secondsOnly(st)
	m := mirrorState{OrderState: st, MAC: k.requestMAC(placeStatus, cr, st)}
	b, _ := json.Marshal(m)
	msg := string(b)
	if c := requestCondition(cr, conditionOrderState); c != nil {
		if c.Message == msg {
			return false
		}
		c.Message = msg
		return true
	}
	if stateEmpty(st) {
		return false
	}
	now := metav1.Now()
	cr.Status.Conditions = append(cr.Status.Conditions, cmapi.CertificateRequestCondition{
		Type: conditionOrderState, Status: cmmeta.ConditionTrue, Reason: "Recorded", Message: msg, LastTransitionTime: &now,
	})
	return true
}

// storeTrusted writes st and its MAC into the request's annotations (in
// memory). Empty state keeps its MAC too: the controller emptied it, so
// annotations that are gone altogether mean someone else removed them.
func (k stateKey) storeTrusted(obj client.Object, st signer.OrderState) {
	storeState(obj, st)
	a := obj.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	// The MAC covers the state as stored (the creating mark rounded down).
	a[v1alpha1.AnnotationStateMAC] = k.requestMAC(placeAnnotations, obj, loadState(obj))
	obj.SetAnnotations(a)
}

// adoptedKeyMAC authenticates the instance recorded next to an adopted key
// in a next-private-key Secret (by UID, name, instance and key digest).
func (k stateKey) adoptedKeyMAC(secretUID, namespace, name, instanceID string, keyPEM []byte) string {
	d := sha256.Sum256(keyPEM)
	return k.sum(placeAdoptedKey, secretUID, "Secret", namespace+"/"+name, signer.OrderState{
		InstanceID: instanceID, ValidationRecords: []string{base64.RawURLEncoding.EncodeToString(d[:])}})
}
