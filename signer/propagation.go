package signer

import (
	"context"
	"errors"
	"fmt"
	"net"
	"slices"
	"strings"
	"time"
)

// queryTimeout bounds one TXT query to one name server.
const queryTimeout = 3 * time.Second

// propagationChecker asks name servers directly (no recursive resolver,
// no cache) whether a TXT record carries a value.
type propagationChecker struct {
	// servers are "host:port"; empty means the zone's NS records.
	servers []string
	// lookupNS finds a zone's name servers (tests replace it).
	lookupNS func(ctx context.Context, zone string) ([]string, error)
}

func newPropagationChecker(servers []string) *propagationChecker {
	c := &propagationChecker{lookupNS: defaultLookupNS}
	for _, s := range servers {
		if s = strings.TrimSpace(s); s != "" {
			c.servers = append(c.servers, withPort(s))
		}
	}
	return c
}

func withPort(s string) string {
	if _, _, err := net.SplitHostPort(s); err == nil {
		return s
	}
	return net.JoinHostPort(strings.Trim(s, "[]"), "53")
}

func defaultLookupNS(ctx context.Context, zone string) ([]string, error) {
	ns, err := net.DefaultResolver.LookupNS(ctx, zone)
	if err != nil {
		return nil, err
	}
	var out []string
	for _, n := range ns {
		out = append(out, withPort(strings.TrimSuffix(n.Host, ".")))
	}
	return out, nil
}

// propagation is what the name servers answered.
type propagation struct {
	visible bool
	// summary is for people, e.g. "visible at 1.2.3.4:53" or
	// "ns1.alidns.com:53 answers no TXT record".
	summary string
}

// check queries every server; the record counts as visible when all the
// servers that answered return the value (and at least one answered).
func (c *propagationChecker) check(ctx context.Context, zone, name, value string) propagation {
	servers := c.servers
	if len(servers) == 0 {
		ns, err := c.lookupNS(ctx, zone)
		if err != nil || len(ns) == 0 {
			return propagation{summary: fmt.Sprintf("the name servers of zone %s are unknown: %v", zone, err)}
		}
		servers = ns
	}
	var seenAt, problems []string
	for _, srv := range servers {
		vals, err := lookupTXTAt(ctx, srv, name)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("%s: %v", srv, shortDNSError(err)))
		case slices.Contains(vals, value):
			seenAt = append(seenAt, srv)
		case len(vals) == 0:
			problems = append(problems, srv+" answers no TXT record")
		default:
			problems = append(problems, fmt.Sprintf("%s answers other values", srv))
		}
	}
	if len(seenAt) > 0 && len(problems) == 0 {
		return propagation{visible: true, summary: "visible at " + strings.Join(seenAt, ", ")}
	}
	s := strings.Join(problems, "; ")
	if len(seenAt) > 0 {
		s = "visible at " + strings.Join(seenAt, ", ") + "; " + s
	}
	return propagation{summary: s}
}

// lookupTXTAt asks one server for the TXT records of name.
func lookupTXTAt(ctx context.Context, server, name string) ([]string, error) {
	r := &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, server)
		},
	}
	ctx, cancel := context.WithTimeout(ctx, queryTimeout)
	defer cancel()
	vals, err := r.LookupTXT(ctx, name+".")
	var de *net.DNSError
	if errors.As(err, &de) && de.IsNotFound {
		return nil, nil
	}
	return vals, err
}

func shortDNSError(err error) string {
	var de *net.DNSError
	if errors.As(err, &de) {
		if de.IsTimeout {
			return "no answer"
		}
		return de.Err
	}
	return err.Error()
}
