package signer

import (
	"context"
	"testing"
	"time"
)

func TestValidationEntryRoundTrip(t *testing.T) {
	e := validationEntry{ID: "42", Zone: "example.com", Name: "_dnsauth.www.example.com", Type: "TXT", Value: "a b&c=d", Created: time.Date(2026, 11, 28, 1, 2, 3, 0, time.UTC)}
	got, ok := parseEntry(e.String())
	if !ok || got != e {
		t.Fatalf("round trip: %+v %v", got, ok)
	}
	if _, ok := parseEntry("12345"); ok {
		t.Fatal("an entry of another provider was taken for an Alidns one")
	}
}

func TestValidationRecordName(t *testing.T) {
	for in, want := range map[string]string{"www.example.com": "_dnsauth.www.example.com", "*.Example.com.": "_dnsauth.example.com"} {
		if got := validationRecordName(in); got != want {
			t.Errorf("%s: %s, want %s", in, got, want)
		}
	}
}

func TestConfiguredZone(t *testing.T) {
	p := newAlidnsProvider(DNSConfig{Zone: "Example.com.", SkipPropagationCheck: true}, nil)
	if z, err := p.zoneFor(context.Background(), "_dnsauth.www.example.com"); err != nil || z != "example.com" {
		t.Fatalf("%q %v", z, err)
	}
	_, err := p.zoneFor(context.Background(), "_dnsauth.www.other.net")
	if pe, ok := AsPermanent(err); !ok || pe.Reason != ReasonDNSZoneNotFound {
		t.Fatalf("got %v", err)
	}
}
