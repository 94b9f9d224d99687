package signer

import "testing"

// RecordDomain is a host record: relative to the domain, to the zone, or
// full. The record always lives at _dnsauth.<domain>.
func TestRecordNameForms(t *testing.T) {
	for _, c := range []struct{ rd, base, want string }{
		{"_dnsauth", "www.example.com", "_dnsauth.www.example.com"},
		{"_dnsauth.www", "www.example.com", "_dnsauth.www.example.com"},
		{"_dnsauth.www.dev", "www.dev.example.com", "_dnsauth.www.dev.example.com"},
		{"_dnsauth.www.example.com", "www.example.com", "_dnsauth.www.example.com"},
		{"_DNSAUTH.WWW.", "www.example.com", "_dnsauth.www.example.com"},
		{"_dnsauth", "example.com", "_dnsauth.example.com"},
		{"", "example.com", "example.com"},
	} {
		if got := recordName(c.rd, c.base); got != c.want {
			t.Errorf("recordName(%q, %q) = %q, want %q", c.rd, c.base, got, c.want)
		}
	}
}
