package controllers

import (
	"errors"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// A throttled call comes back when the account's limiter has room (its
// RetryAfter), without growing the request's own backoff; other transient
// errors back off per request.
func TestThrottledRequeueSkipsTheBackoff(t *testing.T) {
	r := &resolved{iss: &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "iss"}}}
	for _, tc := range []struct {
		name        string
		err         error
		wantBackoff bool
		wantRequeue time.Duration
	}{
		{"throttled", signer.Transient(signer.ReasonThrottled, 1500*time.Millisecond, errors.New("flow control")), false, 1500 * time.Millisecond},
		{"throttled without a time", signer.Transient(signer.ReasonThrottled, 0, errors.New("flow control")), false, time.Second},
		{"unavailable", signer.Transient("Unavailable", 0, errors.New("503")), true, 16 * time.Second},
	} {
		asked := false
		in := r.signResult(signer.Outcome{}, tc.err, func() time.Duration { asked = true; return 16 * time.Second })
		if asked != tc.wantBackoff {
			t.Errorf("%s: backoff asked %v, want %v", tc.name, asked, tc.wantBackoff)
		}
		if v := decide(in); v.requeue != tc.wantRequeue {
			t.Errorf("%s: requeue after %v, want %v", tc.name, v.requeue, tc.wantRequeue)
		}
	}
}
