package signer

import (
	"bytes"
	"crypto/elliptic"
	"crypto/x509"
	"strings"
	"testing"
	"time"
)

func TestParseChain(t *testing.T) {
	ca := newTestCA(t)
	leafKey := ecKey(t, elliptic.P256())
	leaf := ca.issue(t, leafKey.Public(), 90*24*time.Hour, "www.example.com")
	other := newTestCA(t)
	stranger := other.issue(t, leafKey.Public(), time.Hour, "x.example.com")

	crlf := func(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }
	for _, tc := range []struct {
		name     string
		in       string
		wantErr  string
		inters   int
		wantRoot bool
	}{
		{name: "bare leaf", in: pemOf(leaf)},
		{name: "leaf, intermediate", in: pemOf(leaf, ca.inter), inters: 1},
		{name: "intermediate, leaf", in: pemOf(ca.inter, leaf), inters: 1},
		{name: "leaf, intermediate, root", in: pemOf(leaf, ca.inter, ca.root), inters: 1, wantRoot: true},
		{name: "root, intermediate, leaf", in: pemOf(ca.root, ca.inter, leaf), inters: 1, wantRoot: true},
		{name: "root, leaf, intermediate", in: pemOf(ca.root, leaf, ca.inter), inters: 1, wantRoot: true},
		{name: "CRLF", in: crlf(pemOf(leaf, ca.inter, ca.root)), inters: 1, wantRoot: true},
		{name: "CRLF reversed with blank lines", in: "\r\n" + crlf(pemOf(ca.inter)) + "\r\n\r\n" + crlf(pemOf(leaf)) + "\r\n", inters: 1},
		{name: "empty", in: "", wantErr: "no certificate"},
		{name: "garbage", in: "hello world", wantErr: "not a PEM"},
		{name: "trailing garbage", in: pemOf(leaf) + "junk", wantErr: "not a PEM"},
		{name: "bad DER", in: "-----BEGIN CERTIFICATE-----\nAQID\n-----END CERTIFICATE-----\n", wantErr: "certificate 1"},
		{name: "key block", in: pemOf(leaf) + "-----BEGIN PRIVATE KEY-----\nAQID\n-----END PRIVATE KEY-----\n", wantErr: "PRIVATE KEY"},
		{name: "two leaves", in: pemOf(leaf, stranger), wantErr: "more than one leaf"},
		{name: "unrelated CA", in: pemOf(leaf, ca.inter, other.root), wantErr: "more than one leaf"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ch, err := ParseChain([]byte(tc.in))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("got %v, want an error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !ch.Leaf.Equal(leaf) || len(ch.Intermediates) != tc.inters || (ch.Root != nil) != tc.wantRoot {
				t.Fatalf("got leaf %s, %d intermediates, root %v", ch.Leaf.Subject, len(ch.Intermediates), ch.Root != nil)
			}
			want := pemOf(append([]*x509.Certificate{leaf}, ch.Intermediates...)...)
			if got := string(ch.ChainPEM()); got != want {
				t.Fatalf("ChainPEM:\n%s\nwant\n%s", got, want)
			}
			if bytes.Contains(ch.ChainPEM(), []byte("\r")) {
				t.Fatal("CR left in the chain")
			}
			if tc.wantRoot && string(ch.CAPEM()) != pemOf(ca.root) {
				t.Fatal("CAPEM is not the root")
			}
			if !tc.wantRoot && ch.CAPEM() != nil {
				t.Fatal("CAPEM without a root")
			}
		})
	}
}
