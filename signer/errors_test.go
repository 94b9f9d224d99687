package signer

import (
	"crypto/elliptic"
	"errors"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

func TestClassify(t *testing.T) {
	remote := func(class aliyun.Class, reason string) *aliyun.Error {
		return &aliyun.Error{Product: "cas", Action: "DescribeCertificateState", Code: "X", Message: "m", Class: class, Reason: reason, RetryAfter: 3 * time.Second}
	}
	for _, tc := range []struct {
		in     error
		class  string
		reason string
	}{
		{remote(aliyun.Permanent, aliyun.ReasonQuotaExhausted), "permanent", "QuotaExhausted"},
		{remote(aliyun.Issuer, aliyun.ReasonInvalidCredentials), "issuer", "InvalidCredentials"},
		{remote(aliyun.Issuer, aliyun.ReasonUnsupportedAPI), "issuer", "UnsupportedAPI"},
		{remote(aliyun.Transient, aliyun.ReasonThrottled), "transient", "Throttled"},
		{errors.New("plain"), "transient", "Unknown"},
		{Permanent("Mine", "x"), "permanent", "Mine"},
	} {
		out := classify(tc.in)
		var class, reason string
		if p, ok := AsPermanent(out); ok {
			class, reason = "permanent", p.Reason
		} else if i, ok := AsIssuer(out); ok {
			class, reason = "issuer", i.Reason
		} else if tr, ok := AsTransient(out); ok {
			class, reason = "transient", tr.Reason
			if ae, ok := aliyun.AsError(tc.in); ok && tr.RetryAfter != ae.RetryAfter {
				t.Errorf("%v: RetryAfter %v", tc.in, tr.RetryAfter)
			}
		}
		if class != tc.class || reason != tc.reason {
			t.Errorf("%v: got %s %s, want %s %s", tc.in, class, reason, tc.class, tc.reason)
		}
		if ae, ok := aliyun.AsError(tc.in); ok {
			if got, ok := aliyun.AsError(out); !ok || got != ae {
				t.Errorf("%v: the remote error is not kept", tc.in)
			}
		}
	}
	p := Permanent("X", "y")
	if classify(p) != p {
		t.Fatal("classified twice")
	}
	w := withContext(Issuer("Bad", errors.New("inner")), "doing %s", "it")
	if i, ok := AsIssuer(w); !ok || i.Reason != "Bad" || w.Error() != "doing it: inner" {
		t.Fatalf("got %v", w)
	}
	if c := checkError(remote(aliyun.Permanent, aliyun.ReasonUnsupportedProduct), "checking"); c == nil {
		t.Fatal("nil")
	} else if i, ok := AsIssuer(c); !ok || i.Reason != aliyun.ReasonUnsupportedProduct {
		t.Fatalf("health check of a permanent failure: %v", c)
	}
}

func TestSamePublicKey(t *testing.T) {
	a := rsaKey(t, 2048).Public()
	if !samePublicKey(a, rsaKey(t, 2048).Public()) || samePublicKey(a, ecKey(t, elliptic.P256()).Public()) {
		t.Fatal("samePublicKey")
	}
}
