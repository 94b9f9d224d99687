package controllers

import (
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

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
