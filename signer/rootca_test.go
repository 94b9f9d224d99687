package signer

import (
	"context"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// aiaCA is a test CA whose intermediate names where its root is published.
func aiaCA(t *testing.T, url string) *testCA {
	t.Helper()
	ca := newTestCA(t)
	tmpl := *ca.inter
	tmpl.IssuingCertificateURL = []string{url}
	ca.inter = mustCert(t, &tmpl, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

func TestRootFromAIA(t *testing.T) {
	var served atomic.Value // []byte
	var hits atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		b, _ := served.Load().([]byte)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	ca := aiaCA(t, srv.URL+"/root.crt")
	leaf := ca.issue(t, ecKey(t, ca.rootKey.Curve).Public(), time.Hour, "www.example.com")
	chain := &Chain{Leaf: leaf, Intermediates: []*x509.Certificate{ca.inter}}

	t.Run("DER root that signed the chain", func(t *testing.T) {
		served.Store(ca.root.Raw)
		rc := newRootCache(nil, EndpointPolicy{})
		root, err := rc.root(ctx, chain)
		if err != nil || !root.Equal(ca.root) {
			t.Fatalf("root %v, err %v", root, err)
		}
		before := hits.Load()
		if _, err := rc.root(ctx, chain); err != nil || hits.Load() != before {
			t.Fatalf("second look-up fetched again (%d → %d) or failed: %v", before, hits.Load(), err)
		}
	})
	t.Run("PEM root", func(t *testing.T) {
		served.Store([]byte(pemOf(ca.root)))
		if root, err := newRootCache(nil, EndpointPolicy{}).root(ctx, chain); err != nil || !root.Equal(ca.root) {
			t.Fatalf("root %v, err %v", root, err)
		}
	})
	t.Run("a root that did not sign the chain is refused", func(t *testing.T) {
		served.Store(newTestCA(t).root.Raw)
		if _, err := newRootCache(nil, EndpointPolicy{}).root(ctx, chain); err == nil || !strings.Contains(err.Error(), "did not sign") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("an intermediate is not a root", func(t *testing.T) {
		served.Store(ca.inter.Raw)
		if _, err := newRootCache(nil, EndpointPolicy{}).root(ctx, chain); err == nil || !strings.Contains(err.Error(), "not a self-signed CA") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("garbage", func(t *testing.T) {
		served.Store([]byte("<html>not found</html>"))
		if _, err := newRootCache(nil, EndpointPolicy{}).root(ctx, chain); err == nil {
			t.Fatal("garbage accepted as a root")
		}
	})
	t.Run("no AIA", func(t *testing.T) {
		plain := newTestCA(t)
		c := &Chain{Leaf: plain.issue(t, ecKey(t, plain.rootKey.Curve).Public(), time.Hour, "a.example.com"), Intermediates: []*x509.Certificate{plain.inter}}
		if _, err := newRootCache(nil, EndpointPolicy{}).root(ctx, c); err == nil || !strings.Contains(err.Error(), "names no CA Issuers URL") {
			t.Fatalf("err %v", err)
		}
	})
	t.Run("root in the chain wins", func(t *testing.T) {
		c := &Chain{Leaf: leaf, Intermediates: []*x509.Certificate{ca.inter}, Root: ca.root}
		before := hits.Load()
		if root, err := newRootCache(nil, EndpointPolicy{}).root(ctx, c); err != nil || !root.Equal(ca.root) || hits.Load() != before {
			t.Fatalf("root %v err %v fetches %d", root, err, hits.Load()-before)
		}
	})
}

// aiaCAURLs is aiaCA with several CA Issuers URLs.
func aiaCAURLs(t *testing.T, urls ...string) *testCA {
	t.Helper()
	ca := newTestCA(t)
	tmpl := *ca.inter
	tmpl.IssuingCertificateURL = urls
	ca.inter = mustCert(t, &tmpl, ca.root, ca.interKey.Public(), ca.rootKey)
	return ca
}

// The fetch follows the issuer's endpoint policy: at most two URLs per
// chain, http(s) only, no redirects, no private address for a namespaced
// issuer; a failed URL is not fetched again at once.
func TestRootFetchLimits(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	var hits atomic.Int32
	var root atomic.Value // []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		if r.URL.Path == "/moved" {
			http.Redirect(w, r, "/root.crt", http.StatusFound)
			return
		}
		if r.URL.Path != "/root.crt" {
			http.NotFound(w, r)
			return
		}
		b, _ := root.Load().([]byte)
		_, _ = w.Write(b)
	}))
	defer srv.Close()
	chainOf := func(ca *testCA) *Chain {
		leaf := ca.issue(t, ecKey(t, ca.rootKey.Curve).Public(), time.Hour, "www.example.com")
		return &Chain{Leaf: leaf, Intermediates: []*x509.Certificate{ca.inter}}
	}

	t.Run("two URLs at most", func(t *testing.T) {
		ca := aiaCAURLs(t, "ldap://ldap.example/x", srv.URL+"/a", srv.URL+"/b", srv.URL+"/root.crt")
		root.Store(ca.root.Raw)
		before := hits.Load()
		if _, err := newRootCache(nil, EndpointPolicy{}).root(ctx, chainOf(ca)); err == nil {
			t.Fatal("the third http URL was fetched")
		}
		if n := hits.Load() - before; n != 2 {
			t.Fatalf("%d fetches, want 2", n)
		}
	})
	t.Run("no redirect", func(t *testing.T) {
		ca := aiaCAURLs(t, srv.URL+"/moved")
		root.Store(ca.root.Raw)
		before := hits.Load()
		_, err := newRootCache(nil, EndpointPolicy{}).root(ctx, chainOf(ca))
		if err == nil || !strings.Contains(err.Error(), "redirect") || hits.Load()-before != 1 {
			t.Fatalf("err %v, fetches %d", err, hits.Load()-before)
		}
	})
	t.Run("private address, namespaced issuer", func(t *testing.T) {
		ca := aiaCAURLs(t, srv.URL+"/root.crt")
		root.Store(ca.root.Raw)
		before := hits.Load()
		_, err := newRootCache(nil, EndpointPolicy{Namespaced: true}).root(ctx, chainOf(ca))
		if err == nil || hits.Load() != before {
			t.Fatalf("err %v, fetches %d", err, hits.Load()-before)
		}
		if _, err := newRootCache(nil, EndpointPolicy{Namespaced: true, AllowInsecure: true}).root(ctx, chainOf(ca)); err != nil {
			t.Fatalf("allowed: %v", err)
		}
	})
	t.Run("a failure is cached", func(t *testing.T) {
		ca := aiaCAURLs(t, srv.URL+"/nothing-here")
		rc := newRootCache(nil, EndpointPolicy{})
		before := hits.Load()
		for i := 0; i < 3; i++ {
			if _, err := rc.root(ctx, chainOf(ca)); err == nil {
				t.Fatal("no error")
			}
		}
		if n := hits.Load() - before; n != 1 {
			t.Fatalf("%d fetches of a failing URL, want 1", n)
		}
	})
}
