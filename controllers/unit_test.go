package controllers

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

func TestStateRoundTrip(t *testing.T) {
	creating := time.Date(2026, 3, 1, 10, 20, 30, 123456789, time.UTC)
	ordered := creating.Add(time.Second)
	cases := []signer.OrderState{
		{},
		{Creating: &creating},
		{OrderID: "123", OrderedAt: &ordered},
		{InstanceID: "cas-cn-abc", ValidationRecords: []string{"r1", "r2"}},
	}
	for _, st := range cases {
		cr := &cmapi.CertificateRequest{}
		cr.SetAnnotations(map[string]string{"keep": "me"})
		storeState(cr, st)
		got := loadState(cr)
		if got.OrderID != st.OrderID || got.InstanceID != st.InstanceID ||
			strings.Join(got.ValidationRecords, ",") != strings.Join(st.ValidationRecords, ",") {
			t.Errorf("round trip of %+v gave %+v", st, got)
		}
		if (st.Creating == nil) != (got.Creating == nil) {
			t.Errorf("creating: %v -> %v", st.Creating, got.Creating)
		} else if st.Creating != nil && !got.Creating.Equal(st.Creating.Truncate(time.Second)) {
			t.Errorf("creating %v stored as %v, want it rounded down to the second", st.Creating, got.Creating)
		}
		if (st.OrderedAt == nil) != (got.OrderedAt == nil) || (st.OrderedAt != nil && !got.OrderedAt.Equal(*st.OrderedAt)) {
			t.Errorf("orderedAt: %v -> %v", st.OrderedAt, got.OrderedAt)
		}
		if cr.GetAnnotations()["keep"] != "me" {
			t.Errorf("other annotations were lost: %v", cr.GetAnnotations())
		}
		if stateEmpty(st) != stateEmpty(got) {
			t.Errorf("emptiness changed for %+v", st)
		}
	}
	// Clearing removes every annotation of the state.
	cr := &cmapi.CertificateRequest{}
	storeState(cr, signer.OrderState{OrderID: "1", Creating: &creating})
	storeState(cr, signer.OrderState{})
	if len(cr.GetAnnotations()) != 0 {
		t.Errorf("annotations left after clearing: %v", cr.GetAnnotations())
	}
}

func TestLoadStateUnparsableCreating(t *testing.T) {
	cr := &cmapi.CertificateRequest{}
	cr.CreationTimestamp = metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	cr.SetAnnotations(map[string]string{v1alpha1.AnnotationCreating: "yesterday"})
	st := loadState(cr)
	if st.Creating == nil || !st.Creating.Equal(cr.CreationTimestamp.Time) {
		t.Fatalf("an unparsable creating mark must still mean a create may have happened; got %v", st.Creating)
	}
}

func TestScrub(t *testing.T) {
	const secret = "VeryS3cretValue"
	in := strings.Join([]string{
		"GET /?AccessKeyId=id&Signature=abc%2Bdef%3D&Action=X failed",
		"Authorization: ACS3-HMAC-SHA256 Credential=id,SignedHeaders=host,Signature=0123456789abcdef0123456789abcdef",
		"secret is " + secret,
		"-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----",
		"-----BEGIN PRIVATE KEY-----\nMIIB truncated",
		`{"AccessKeySecret":"x","SecurityToken":"y"}`,
		`Post "http://127.0.0.1:1/?AccessKeyId=id&SignatureNonce=n1&Signature=zzz": dial tcp: refused`,
	}, "\n")
	out := scrub(in, []string{secret})
	for _, bad := range []string{secret, "abc%2Bdef", "0123456789abcdef0123", "PRIVATE KEY", "MIIB", `"x"`, `"y"`, "zzz", "SignatureNonce=n1"} {
		if strings.Contains(out, bad) {
			t.Errorf("scrubbed text still contains %q:\n%s", bad, out)
		}
	}
	if !strings.Contains(out, "Action=X failed") || !strings.Contains(out, "http://127.0.0.1:1/?[query redacted]") {
		t.Errorf("scrub removed too much:\n%s", out)
	}
}

func TestConditionReason(t *testing.T) {
	for in, want := range map[string]string{
		"Throttling.User": "ThrottlingUser",
		"QuotaExhausted":  "QuotaExhausted",
		"":                "Fallback",
		"9lives":          "Fallback",
		"a b-c":           "abc",
	} {
		if got := conditionReason(in, "Fallback"); got != want {
			t.Errorf("conditionReason(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSetReadyKeepsTransitionTime(t *testing.T) {
	cr := &cmapi.CertificateRequest{}
	t0 := metav1.NewTime(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	t1 := metav1.NewTime(t0.Add(time.Hour))
	if !setReady(cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending, "a", t0) {
		t.Fatal("first set reported no change")
	}
	if setReady(cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending, "a", t1) {
		t.Fatal("same condition reported a change")
	}
	setReady(cr, cmmeta.ConditionFalse, cmapi.CertificateRequestReasonPending, "b", t1)
	if c := requestCondition(cr, cmapi.CertificateRequestConditionReady); !c.LastTransitionTime.Equal(&t0) || c.Message != "b" {
		t.Fatalf("message change moved the transition time or lost the message: %+v", c)
	}
	setReady(cr, cmmeta.ConditionTrue, cmapi.CertificateRequestReasonIssued, "ok", t1)
	if c := requestCondition(cr, cmapi.CertificateRequestConditionReady); !c.LastTransitionTime.Equal(&t1) {
		t.Fatalf("status change kept the old transition time: %+v", c)
	}
	if !isTerminal(cr) {
		t.Fatal("issued request is not terminal")
	}
}

func TestRequestIssuerKind(t *testing.T) {
	for _, tc := range []struct {
		group, kind, want string
		ours              bool
	}{
		{"aliyun-cas-issuer.io", "", issuerKind, true},
		{"aliyun-cas-issuer.io", "AliyunCASIssuer", issuerKind, true},
		{"aliyun-cas-issuer.io", "AliyunCASClusterIssuer", clusterIssuerKind, true},
		{"aliyun-cas-issuer.io", "Other", "", false},
		{"cert-manager.io", "Issuer", "", false},
		{"", "AliyunCASIssuer", "", false},
	} {
		cr := &cmapi.CertificateRequest{}
		cr.Spec.IssuerRef = cmmeta.IssuerReference{Group: tc.group, Kind: tc.kind, Name: "x"}
		got, ours := requestIssuerKind(cr)
		if got != tc.want || ours != tc.ours {
			t.Errorf("%s/%s: got %q %v", tc.group, tc.kind, got, ours)
		}
	}
}

func TestTruncate(t *testing.T) {
	s := strings.Repeat("é", 10) // 2 bytes each
	got := truncate(s, 5)
	if !strings.HasSuffix(got, "…") || strings.ContainsRune(strings.TrimSuffix(got, "…"), '\uFFFD') || len(got) > 5+len("…") {
		t.Fatalf("truncate cut badly: %q", got)
	}
}

func TestStateTrust(t *testing.T) {
	k := stateKey(bytes.Repeat([]byte{7}, stateKeyBytes))
	creating := time.Date(2026, 3, 1, 10, 20, 30, 123456789, time.UTC)
	mine := &cmapi.CertificateRequest{}
	mine.UID, mine.Namespace, mine.Name = "uid-a", "team-a", "web"
	st := signer.OrderState{OrderID: "42", Creating: &creating, ValidationRecords: []string{"alidns:id=1"}}
	k.storeTrusted(mine, st)
	if got, trust := k.load(mine); trust != stateTrusted || got.OrderID != "42" || len(got.ValidationRecords) != 1 {
		t.Fatalf("own state: %+v, trust %d", got, trust)
	}

	// Copied onto another request: another UID.
	other := &cmapi.CertificateRequest{}
	other.UID, other.Namespace, other.Name = "uid-b", "team-b", "web"
	other.SetAnnotations(mine.GetAnnotations())
	if got, trust := k.load(other); trust != stateUntrusted || !stateEmpty(got) {
		t.Errorf("copied state trusted: %+v, %d", got, trust)
	}
	// Same name and namespace, new UID (deleted and re-created).
	again := mine.DeepCopy()
	again.UID = "uid-a2"
	if _, trust := k.load(again); trust != stateUntrusted {
		t.Errorf("state of a re-created request trusted")
	}
	// Edited after the controller wrote it.
	edited := mine.DeepCopy()
	edited.Annotations[v1alpha1.AnnotationOrderID] = "43"
	if _, trust := k.load(edited); trust != stateUntrusted {
		t.Errorf("edited state trusted")
	}
	// Written with another key (by the requester).
	forged := mine.DeepCopy()
	stateKey(bytes.Repeat([]byte{8}, stateKeyBytes)).storeTrusted(forged, signer.OrderState{OrderID: "43"})
	if _, trust := k.load(forged); trust != stateUntrusted {
		t.Errorf("state with another key's MAC trusted")
	}
	// No state at all.
	if _, trust := k.load(&cmapi.CertificateRequest{}); trust != stateAbsent {
		t.Errorf("a request without state is not absent")
	}
	// Emptied by the controller: trusted and empty, not absent.
	emptied := mine.DeepCopy()
	k.storeTrusted(emptied, signer.OrderState{})
	if got, trust := k.load(emptied); trust != stateTrusted || !stateEmpty(got) {
		t.Errorf("emptied state: %+v, %d", got, trust)
	}

	// The status mirror: recovered when the annotations are erased or
	// forged, never for another request.
	k.mirror(mine, st)
	erased := mine.DeepCopy()
	erased.Annotations = nil
	if got, repair, untrusted := k.trusted(erased); got.OrderID != "42" || !repair || untrusted {
		t.Errorf("erased: %+v repair=%v untrusted=%v", got, repair, untrusted)
	}
	edited.Status = mine.Status
	if got, repair, untrusted := k.trusted(edited); got.OrderID != "42" || !repair || !untrusted {
		t.Errorf("edited: %+v repair=%v untrusted=%v", got, repair, untrusted)
	}
	other.Status = mine.Status
	if got, _, untrusted := k.trusted(other); !stateEmpty(got) || !untrusted {
		t.Errorf("another request's mirror trusted: %+v", got)
	}
}

// The status mirror wins over trusted annotations only when it follows
// them: it records the order placed at their creating mark (what the
// signer learned from the create's answer, carried by a status write).
func TestMirrorFollowsTheAnnotations(t *testing.T) {
	k := stateKey(bytes.Repeat([]byte{7}, stateKeyBytes))
	creating := time.Date(2026, 3, 1, 10, 20, 30, 123456789, time.UTC)
	intent := signer.OrderState{Creating: &creating, OrderAPI: signer.OrderAPICSR, Endpoint: "https://cas.aliyuncs.com"}
	placed := intent
	placed.Creating, placed.OrderedAt, placed.OrderID = nil, &creating, "42"
	newRequest := func(uid string) *cmapi.CertificateRequest {
		cr := &cmapi.CertificateRequest{}
		cr.UID, cr.Namespace, cr.Name = types.UID(uid), "team-a", "web"
		return cr
	}
	with := func(annotations, mirror signer.OrderState) *cmapi.CertificateRequest {
		cr := newRequest("uid-a")
		k.storeTrusted(cr, annotations)
		k.mirror(cr, mirror)
		return cr
	}

	cr := with(intent, placed)
	if got, repair, untrusted := k.trusted(cr); got.OrderID != "42" || got.Creating != nil || repair || untrusted {
		t.Errorf("the successor mirror is not taken (without a repair): %+v repair=%v untrusted=%v", got, repair, untrusted)
	}
	if !k.records(cr, indexRequestOrder, "42") {
		t.Errorf("the order id of the successor mirror is not recorded for the holder look-ups")
	}
	if ids := indexOrder(cr); len(ids) != 1 || ids[0] != "42" {
		t.Errorf("order index %v, want the mirror's id", ids)
	}
	// The same for the instance flows: the instance recorded before the
	// create, the submission learned after it.
	inst := intent
	inst.InstanceID, inst.CSRDigest = "cas-inst-1", "digest"
	submitted := inst
	submitted.Creating, submitted.OrderedAt, submitted.Submitted = nil, &creating, true
	if got, _, _ := k.trusted(with(inst, submitted)); !got.Submitted || got.Creating != nil {
		t.Errorf("the submission of the successor mirror is not taken: %+v", got)
	}

	later := creating.Add(2 * time.Second)
	earlier := creating.Add(-time.Minute)
	for name, m := range map[string]signer.OrderState{
		// Written before the creating mark: an older mirror.
		"the intent itself": intent,
		"an order placed at another mark": func() signer.OrderState {
			m := placed
			m.OrderedAt = &earlier
			return m
		}(),
		"an order of a later mark": func() signer.OrderState {
			m := placed
			m.OrderedAt = &later
			return m
		}(),
		"another instance": func() signer.OrderState {
			m := submitted
			m.InstanceID = "cas-inst-2"
			return m
		}(),
		"another origin": func() signer.OrderState {
			m := placed
			m.Endpoint = "https://cas.ap-southeast-1.aliyuncs.com"
			return m
		}(),
		"nothing placed": func() signer.OrderState {
			m := placed
			m.OrderID = ""
			return m
		}(),
	} {
		a := intent
		if m.InstanceID != "" {
			a = inst
		}
		if got, _, _ := k.trusted(with(a, m)); !reflect.DeepEqual(got, k.mustLoad(t, with(a, m))) {
			t.Errorf("%s: the mirror won over the annotations: %+v", name, got)
		}
	}
	// Annotations past their creating mark never give way.
	if got, _, _ := k.trusted(with(placed, intent)); got.OrderID != "42" {
		t.Errorf("an older mirror won over annotations holding the order: %+v", got)
	}
	// Another order id in the annotations.
	other := placed
	other.OrderID, other.Creating = "41", &creating
	if got, _, _ := k.trusted(with(other, placed)); got.OrderID != "41" {
		t.Errorf("a mirror with another order id won: %+v", got)
	}

	// A mirror with another key's MAC (forged), or another request's
	// (copied), never wins.
	forged := with(intent, intent)
	stateKey(bytes.Repeat([]byte{8}, stateKeyBytes)).mirror(forged, placed)
	if got, _, _ := k.trusted(forged); got.OrderID != "" || got.Creating == nil {
		t.Errorf("a forged mirror won: %+v", got)
	}
	if k.records(forged, indexRequestOrder, "42") {
		t.Errorf("a forged mirror's order id is recorded")
	}
	mine := with(intent, placed)
	copied := newRequest("uid-b")
	k.storeTrusted(copied, intent)
	copied.Status = mine.Status
	if got, _, _ := k.trusted(copied); got.OrderID != "" || got.Creating == nil {
		t.Errorf("another request's mirror won: %+v", got)
	}
}

// mustLoad is the trusted state of the annotations of cr.
func (k stateKey) mustLoad(t *testing.T, cr *cmapi.CertificateRequest) signer.OrderState {
	t.Helper()
	st, trust := k.load(cr)
	if trust != stateTrusted {
		t.Fatalf("annotations not trusted")
	}
	return st
}

func TestServiceAccountNamespace(t *testing.T) {
	if ns, err := serviceAccountNamespace("system:serviceaccount:pki:cas"); err != nil || ns != "pki" {
		t.Errorf("got %q, %v", ns, err)
	}
	for _, u := range []string{"admin", "system:serviceaccount::cas", "system:node:n1", "system:serviceaccount:pki"} {
		if _, err := serviceAccountNamespace(u); err == nil {
			t.Errorf("%q taken for a service account", u)
		}
	}
}

func TestRequeueOnWriteRace(t *testing.T) {
	gr := schema.GroupResource{Group: "aliyun-cas-issuer.io", Resource: "aliyuncasissuers"}
	if res, err := requeueOnWriteRace(apierrors.NewNotFound(gr, "gone")); err != nil || res.RequeueAfter != 0 {
		t.Errorf("an object deleted meanwhile is an error: %v %v", res, err)
	}
	if res, err := requeueOnWriteRace(apierrors.NewConflict(gr, "x", errors.New("changed"))); err != nil || res.RequeueAfter == 0 {
		t.Errorf("a conflict is not a quiet requeue: %v %v", res, err)
	}
	if _, err := requeueOnWriteRace(errors.New("boom")); err == nil {
		t.Error("other errors are swallowed")
	}
}
