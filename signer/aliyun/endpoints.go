package aliyun

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"
)

// Endpoint safety. An issuer's endpoints (CAS, Alidns, STS) are chosen by
// whoever writes the issuer; for a namespaced AliyunCASIssuer that is a
// namespace user. The controller must not send its credentials over plain
// HTTP, nor let a namespace user aim it at the pod network, the node or the
// cloud metadata service, nor follow a redirect it did not choose. The
// operator lifts these rules for test set-ups with
// --allow-insecure-endpoints.

// Reasons of refused endpoints (Error.Reason, and the issuer's condition).
const (
	ReasonInsecureEndpoint      = "InsecureEndpoint"
	ReasonPrivateEndpoint       = "PrivateEndpoint"
	ReasonSTSEndpointNotAllowed = "STSEndpointNotAllowed"
	ReasonEndpointRedirect      = "EndpointRedirect"
)

// EndpointPolicy says which endpoints an issuer may use.
type EndpointPolicy struct {
	// AllowInsecure lifts every rule (--allow-insecure-endpoints): plain
	// HTTP, private addresses and auth.stsEndpoint with ambient
	// credentials are then accepted. Redirects are never followed.
	AllowInsecure bool
	// Namespaced is set for a namespaced issuer: its endpoints must not
	// resolve to loopback, link-local (169.254.0.0/16, fe80::/10), private
	// (10/8, 172.16/12, 192.168/16, fc00::/7), shared (100.64.0.0/10, which
	// holds the 100.100.100.200 metadata address) or unspecified addresses,
	// and auth.stsEndpoint must not be combined with ambient credentials.
	Namespaced bool
}

// RefusedError is an endpoint the policy refuses.
type RefusedError struct {
	Reason string
	Msg    string
}

func (e *RefusedError) Error() string { return e.Msg }

// refusesPrivate: the private-address rule applies.
func (p EndpointPolicy) refusesPrivate() bool { return p.Namespaced && !p.AllowInsecure }

// CheckURL checks an endpoint URL before use: https only (http only with
// AllowInsecure), and no private literal address for a namespaced issuer.
// Names are checked again when they are dialled.
func (p EndpointPolicy) CheckURL(what, raw string) error {
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return nil // parseEndpoint reports it
	}
	if strings.EqualFold(u.Scheme, "http") && !p.AllowInsecure {
		return &RefusedError{Reason: ReasonInsecureEndpoint, Msg: fmt.Sprintf(
			"%s endpoint %s is plain http: credentials and certificates would cross the network unprotected; use https (or start the controller with --allow-insecure-endpoints for a test set-up)", what, raw)}
	}
	return p.checkHost(what, u.Hostname())
}

func (p EndpointPolicy) checkHost(what, host string) error {
	if !p.refusesPrivate() {
		return nil
	}
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return privateRefusal(what, host, "loopback")
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if kind := privateKind(a); kind != "" {
			return privateRefusal(what, host, kind)
		}
	}
	return nil
}

func privateRefusal(what, host, kind string) error {
	return &RefusedError{Reason: ReasonPrivateEndpoint, Msg: fmt.Sprintf(
		"%s endpoint %s is a %s address, which namespaced issuers may not use (the controller would call into its own network with its credentials)", what, host, kind)}
}

var sharedSpace = netip.MustParsePrefix("100.64.0.0/10")

// privateKind names the kind of a non-public address, "" for a public one.
func privateKind(a netip.Addr) string {
	a = a.Unmap()
	switch {
	case a.IsLoopback():
		return "loopback"
	case a == netip.MustParseAddr("100.100.100.200"):
		return "metadata service"
	case a.IsLinkLocalUnicast() || a.IsLinkLocalMulticast():
		return "link-local"
	case a.IsPrivate():
		return "private"
	case sharedSpace.Contains(a):
		return "shared (carrier-grade NAT)"
	case a.IsUnspecified():
		return "unspecified"
	}
	return ""
}

// Transport wraps base so that redirects are refused (never followed) and,
// for a namespaced issuer, connections to private addresses are refused
// when dialled, whatever the name resolved to.
func (p EndpointPolicy) Transport(base http.RoundTripper, what string) http.RoundTripper {
	if base == nil {
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.DialContext = nil // dialled below, with the address check
		base = t
	}
	g := &guardedTransport{base: base, policy: p, what: what}
	if p.refusesPrivate() {
		if t, ok := base.(*http.Transport); ok && t.DialContext == nil && t.DialTLSContext == nil {
			t = t.Clone()
			d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second, Control: g.control}
			t.DialContext = d.DialContext
			g.base, g.dialChecked = t, true
		}
	}
	return g
}

type guardedTransport struct {
	base        http.RoundTripper
	policy      EndpointPolicy
	what        string
	dialChecked bool // the dialer checks every address it connects to
}

// control refuses a connection to a private address (net.Dialer.Control).
func (g *guardedTransport) control(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return err
	}
	if a, err := netip.ParseAddr(host); err == nil {
		if kind := privateKind(a); kind != "" {
			return privateRefusal(g.what, host, kind)
		}
	}
	return nil
}

func (g *guardedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if g.policy.refusesPrivate() && !g.dialChecked {
		// A transport whose dialing cannot be checked: check what the name
		// resolves to now.
		if err := g.checkResolved(r.Context(), r.URL.Hostname()); err != nil {
			return nil, err
		}
	}
	resp, err := g.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode >= 300 && resp.StatusCode < 400 && resp.Header.Get("Location") != "" {
		resp.Body.Close()
		return nil, &RefusedError{Reason: ReasonEndpointRedirect, Msg: fmt.Sprintf(
			"%s endpoint %s answered with a redirect (HTTP %d), which is never followed: give the final endpoint", g.what, r.URL.Host, resp.StatusCode)}
	}
	return resp, nil
}

func (g *guardedTransport) checkResolved(ctx context.Context, host string) error {
	if err := g.policy.checkHost(g.what, host); err != nil {
		return err
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil // the dial reports it
	}
	for _, a := range addrs {
		if kind := privateKind(a); kind != "" {
			return privateRefusal(g.what, host+" ("+a.String()+")", kind)
		}
	}
	return nil
}

// checkEndpoints applies the policy to a client's configuration.
func checkEndpoints(opts Options) error {
	p := opts.Endpoints
	for _, ep := range []struct{ what, url string }{
		{CAS.Product, opts.Endpoint}, {Alidns.Product, opts.DNSEndpoint}, {STS.Product, opts.Credentials.STSEndpoint},
	} {
		if ep.url == "" {
			continue
		}
		if err := p.CheckURL(ep.what, ep.url); err != nil {
			r, _ := asRefused(err)
			return refusedError(ep.what, "", r)
		}
	}
	if opts.Credentials.Ambient && opts.Credentials.STSEndpoint != "" && p.Namespaced && !p.AllowInsecure {
		// The ambient chain may exchange the pod's OIDC token at this
		// endpoint: a namespace user must not pick where it goes.
		return refusedError(STS.Product, "", &RefusedError{Reason: ReasonSTSEndpointNotAllowed, Msg: fmt.Sprintf(
			"auth.stsEndpoint (%s) may not be combined with ambient credentials on a namespaced issuer: the controller's own identity would be sent there; remove stsEndpoint, or use an AliyunCASClusterIssuer", opts.Credentials.STSEndpoint)})
	}
	return nil
}

// asRefused finds a RefusedError in err's chain.
func asRefused(err error) (*RefusedError, bool) {
	var r *RefusedError
	ok := errors.As(err, &r)
	return r, ok
}

// refusedError turns a refusal into the *Error the issuer reports.
func refusedError(product, action string, r *RefusedError) *Error {
	return &Error{Product: product, Action: action, Code: r.Reason, Message: r.Msg, Class: Issuer, Reason: r.Reason, Err: r}
}
