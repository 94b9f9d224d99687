package controllers

import (
	"testing"
	"time"

	certificatesv1 "k8s.io/api/certificates/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

func TestParseSignerName(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want signerRef
		ok   bool
	}{
		{"aliyuncasclusterissuers.aliyun-cas-issuer.io/prod", signerRef{kind: clusterIssuerKind, name: "prod"}, true},
		// Cluster issuer names may hold dots; the whole path is the name.
		{"aliyuncasclusterissuers.aliyun-cas-issuer.io/prod.eu", signerRef{kind: clusterIssuerKind, name: "prod.eu"}, true},
		// Namespaces hold no dots: the first one splits.
		{"aliyuncasissuers.aliyun-cas-issuer.io/team-a.prod.eu", signerRef{kind: issuerKind, namespace: "team-a", name: "prod.eu"}, true},
		{"aliyuncasissuers.aliyun-cas-issuer.io/prod", signerRef{}, false},
		{"aliyuncasissuers.aliyun-cas-issuer.io/.prod", signerRef{}, false},
		{"aliyuncasissuers.aliyun-cas-issuer.io/team-a.", signerRef{}, false},
		{"aliyuncasclusterissuers.aliyun-cas-issuer.io/", signerRef{}, false},
		{"aliyuncasclusterissuers.aliyun-cas-issuer.io/a/b", signerRef{}, false},
		{"clusterissuers.cert-manager.io/prod", signerRef{}, false},
		{"kubernetes.io/kube-apiserver-client", signerRef{}, false},
		{"issuers.aliyun-cas-issuer.io/team-a.prod", signerRef{}, false},
	} {
		got, ok := parseSignerName(tc.in)
		if got != tc.want || ok != tc.ok {
			t.Errorf("parseSignerName(%q) = %+v, %v; want %+v, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}

func TestCSRDuration(t *testing.T) {
	secs := func(s int32) *int32 { return &s }
	for _, tc := range []struct {
		name       string
		annotation string // "" = none
		expiration *int32
		want       time.Duration
		bad        bool
	}{
		{name: "neither", want: 0},
		{name: "expirationSeconds", expiration: secs(3600), want: time.Hour},
		{name: "the annotation wins", annotation: "2160h", expiration: secs(3600), want: 2160 * time.Hour},
		{name: "not a duration", annotation: "90 days", bad: true},
		{name: "too short", expiration: secs(599), bad: true},
		{name: "the minimum", annotation: "10m", want: 10 * time.Minute},
	} {
		csr := &certificatesv1.CertificateSigningRequest{Spec: certificatesv1.CertificateSigningRequestSpec{ExpirationSeconds: tc.expiration}}
		if tc.annotation != "" {
			csr.ObjectMeta = metav1.ObjectMeta{Annotations: map[string]string{annotationRequestDuration: tc.annotation}}
		}
		got, err := csrDuration(csr)
		if (err != nil) != tc.bad || got != tc.want {
			t.Errorf("%s: got %s, %v; want %s, error %v", tc.name, got, err, tc.want, tc.bad)
		}
	}
}
