package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// CAS answers with the leaf and its intermediates but not the root, while
// cert-manager writes ca.crt only from the request's status.ca. Public CAs
// publish each issuer certificate at the "CA Issuers" URL of the Authority
// Information Access extension, so the root is fetched from there, once per
// URL, and accepted only if it is self-signed and signed the chain's top
// certificate: whatever the network returns, a wrong root is refused.

// Limits of the fetch: the URLs come from certificates, so from whoever
// answers as CAS; they are fetched with the issuer's endpoint policy (no
// redirects; for a namespaced issuer no private address).
const (
	maxRootSize     = 64 << 10 // bytes a CA Issuers URL may return
	maxRootURLs     = 2        // CA Issuers URLs tried per chain
	rootFetchLimit  = 10 * time.Second
	rootFailureTTL  = 10 * time.Minute // a failed URL is not fetched again before
	rootFetchClient = "AIA CA Issuers"
)

// rootCache remembers what each URL gave: a root for the life of the
// process (roots are public, few and long-lived), a failure for a while.
type rootCache struct {
	client   *http.Client
	mu       sync.Mutex
	roots    map[string]*x509.Certificate
	failures map[string]rootFailure
	now      func() time.Time
}

type rootFailure struct {
	err error
	at  time.Time
}

func newRootCache(transport http.RoundTripper, policy EndpointPolicy) *rootCache {
	return &rootCache{
		client:   &http.Client{Transport: policy.Transport(transport, rootFetchClient), Timeout: rootFetchLimit},
		roots:    map[string]*x509.Certificate{},
		failures: map[string]rootFailure{},
		now:      time.Now,
	}
}

// root returns the chain's root: the one it contains, or the one its top
// certificate names by AIA. Errors say why none could be had.
func (c *rootCache) root(ctx context.Context, chain *Chain) (*x509.Certificate, error) {
	if chain.Root != nil {
		return chain.Root, nil
	}
	top := chain.Leaf
	if n := len(chain.Intermediates); n > 0 {
		top = chain.Intermediates[n-1]
	}
	var errs []error
	tried := 0
	for _, url := range top.IssuingCertificateURL {
		if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
			continue
		}
		if tried == maxRootURLs {
			break
		}
		tried++
		root, err := c.fetch(ctx, url)
		if err == nil {
			if err = acceptRoot(root, top); err == nil {
				c.mu.Lock()
				c.roots[url] = root
				c.mu.Unlock()
				return root, nil
			}
		}
		errs = append(errs, fmt.Errorf("%s: %w", url, err))
	}
	if len(errs) == 0 {
		return nil, errors.New("the chain has no root and names no CA Issuers URL")
	}
	return nil, errors.Join(errs...)
}

func (c *rootCache) fetch(ctx context.Context, url string) (*x509.Certificate, error) {
	c.mu.Lock()
	cached, failed := c.roots[url], c.failures[url]
	c.mu.Unlock()
	if cached != nil {
		return cached, nil
	}
	if failed.err != nil && c.now().Sub(failed.at) < rootFailureTTL {
		return nil, failed.err
	}
	root, err := c.download(ctx, url)
	if err != nil && ctx.Err() == nil {
		c.mu.Lock()
		c.failures[url] = rootFailure{err: err, at: c.now()}
		c.mu.Unlock()
	}
	return root, err
}

func (c *rootCache) download(ctx context.Context, url string) (*x509.Certificate, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxRootSize+1))
	if err != nil {
		return nil, err
	}
	if len(body) > maxRootSize {
		return nil, fmt.Errorf("more than %d bytes", maxRootSize)
	}
	// Published as DER (.crt/.cer) by most CAs, PEM by some.
	if b, _ := pem.Decode(body); b != nil && b.Type == "CERTIFICATE" {
		body = b.Bytes
	}
	return x509.ParseCertificate(body)
}

// acceptRoot checks that root is a self-signed CA that signed top.
func acceptRoot(root, top *x509.Certificate) error {
	if !root.IsCA || !isSelfSigned(root) {
		return errors.New("not a self-signed CA certificate")
	}
	if !issued(root, top) {
		return fmt.Errorf("did not sign %q", top.Subject.CommonName)
	}
	return nil
}
