package aliyun

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func staticCreds() Credentials {
	return Credentials{AccessKeyID: "testid", AccessKeySecret: "testsecret"}
}

func wantRefused(t *testing.T, err error, reason string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Class != Issuer || e.Reason != reason {
		t.Fatalf("want an issuer error %s, got %v", reason, err)
	}
}

func TestEndpointPolicyAtConfiguration(t *testing.T) {
	namespaced := EndpointPolicy{Namespaced: true}
	for _, c := range []struct {
		name   string
		opts   Options
		reason string // "" accepted
	}{
		{"http CAS", Options{Endpoint: "http://cas.aliyuncs.com"}, ReasonInsecureEndpoint},
		{"http Alidns", Options{DNSEndpoint: "http://alidns.aliyuncs.com"}, ReasonInsecureEndpoint},
		{"http STS", Options{Credentials: Credentials{AccessKeyID: "a", AccessKeySecret: "b", RoleARN: "acs:ram::1:role/r", STSEndpoint: "http://sts.aliyuncs.com"}}, ReasonInsecureEndpoint},
		{"http allowed", Options{Endpoint: "http://cas.aliyuncs.com", Endpoints: EndpointPolicy{AllowInsecure: true}}, ""},
		{"metadata address, namespaced", Options{Endpoint: "https://100.100.100.200", Endpoints: namespaced}, ReasonPrivateEndpoint},
		{"link-local, namespaced", Options{DNSEndpoint: "https://169.254.169.254", Endpoints: namespaced}, ReasonPrivateEndpoint},
		{"loopback, namespaced", Options{Endpoint: "https://127.0.0.1:8443", Endpoints: namespaced}, ReasonPrivateEndpoint},
		{"localhost, namespaced", Options{Endpoint: "https://localhost:8443", Endpoints: namespaced}, ReasonPrivateEndpoint},
		{"private, namespaced", Options{Endpoint: "https://10.1.2.3", Endpoints: namespaced}, ReasonPrivateEndpoint},
		{"IPv6 ULA, namespaced", Options{Endpoint: "https://[fd00::1]", Endpoints: namespaced}, ReasonPrivateEndpoint},
		{"loopback, cluster issuer", Options{Endpoint: "https://127.0.0.1:8443"}, ""},
		{"loopback, namespaced, allowed", Options{Endpoint: "https://127.0.0.1:8443", Endpoints: EndpointPolicy{Namespaced: true, AllowInsecure: true}}, ""},
		{"public, namespaced", Options{Endpoint: "https://cas.ap-southeast-1.aliyuncs.com", Endpoints: namespaced}, ""},
		{"ambient with stsEndpoint, namespaced", Options{Credentials: Credentials{Ambient: true, STSEndpoint: "https://sts.example.com"}, Endpoints: namespaced}, ReasonSTSEndpointNotAllowed},
	} {
		t.Run(c.name, func(t *testing.T) {
			if c.opts.Credentials == (Credentials{}) {
				c.opts.Credentials = staticCreds()
			}
			_, err := New(c.opts)
			if c.reason == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			wantRefused(t, err, c.reason)
		})
	}
}

// A name that resolves to a private address is refused when dialled,
// whatever it resolved to at configuration time.
func TestEndpointPolicyAtDial(t *testing.T) {
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hits.Add(1) }))
	defer srv.Close()
	rt := EndpointPolicy{Namespaced: true}.Transport(&http.Transport{}, "test")
	req, _ := http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	_, err := rt.RoundTrip(req)
	if r, ok := asRefused(err); !ok || r.Reason != ReasonPrivateEndpoint {
		t.Fatalf("want a dial refusal, got %v", err)
	}
	// A transport whose dialing it cannot see: the name is resolved first.
	rt = EndpointPolicy{Namespaced: true}.Transport(roundTripFunc(http.DefaultTransport.RoundTrip), "test")
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, strings.Replace(srv.URL, "127.0.0.1", "localhost", 1), nil)
	if _, err := rt.RoundTrip(req); err == nil {
		t.Fatal("localhost was dialled")
	}
	if hits.Load() != 0 {
		t.Fatalf("the private endpoint was reached %d times", hits.Load())
	}
	// A cluster issuer may use it.
	rt = EndpointPolicy{}.Transport(&http.Transport{}, "test")
	req, _ = http.NewRequestWithContext(context.Background(), http.MethodGet, srv.URL, nil)
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A redirect is never followed: the call fails with EndpointRedirect and
// the target never sees the request (nor the signed parameters).
func TestRedirectRefused(t *testing.T) {
	var targetHits atomic.Int32
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { targetHits.Add(1) }))
	defer target.Close()
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, target.URL+"/", http.StatusTemporaryRedirect)
	}))
	defer redirector.Close()
	c := testClient(t, redirector.URL, func(o *Options) { o.MaxAttempts = 1 })
	_, err := c.DescribePackageState(context.Background(), "p")
	wantRefused(t, err, ReasonEndpointRedirect)
	if targetHits.Load() != 0 {
		t.Fatal("the redirect was followed")
	}
}

// A body that is not an API answer never reaches the error text (which goes
// into conditions and Events).
func TestRawBodyNeverInMessage(t *testing.T) {
	for _, status := range []int{200, 404, 502} {
		f := newFake(t, func(string, url.Values) (int, string) {
			return status, "<html><body>internal-page token=s3cr3t\x1b[31m</body></html>"
		})
		c := testClient(t, f.URL, func(o *Options) { o.MaxAttempts = 1; o.MaxWait = time.Millisecond })
		_, err := c.DescribePackageState(context.Background(), "p")
		if err == nil {
			t.Fatalf("%d: no error", status)
		}
		if msg := err.Error(); strings.Contains(msg, "s3cr3t") || strings.Contains(msg, "internal-page") || strings.Contains(msg, "\x1b") {
			t.Fatalf("%d: the body reached the message: %q", status, msg)
		}
	}
}
