package signer

import (
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

func TestInstanceValidations(t *testing.T) {
	got := instanceValidations([]aliyun.DomainValidation{
		{Domain: "example.com", RootDomain: "example.com", ValidationType: "TXT", ValidationKey: "@", ValidationValue: "v1"},
		{Domain: "*.example.com", RootDomain: "example.com", ValidationType: "TXT", ValidationKey: "@", ValidationValue: "v1"}, // same record
		{Domain: "www.shop.example.com", RootDomain: "example.com", ValidationType: "txt", ValidationKey: "_dnsauth.www.shop", ValidationValue: "v2"},
		{Domain: "a.example.org", RootDomain: "example.org", ValidationType: "CNAME", CnameKey: "_acme.a", Cname: "x.cas.example.net"},
		{Domain: "files.example.com", ValidationType: "HTTP", ValidationKey: "/.well-known/pki-validation/fileauth.txt", ValidationValue: "c1"},
		{Domain: "full.example.com", ValidationType: "FILE", ValidationKey: "http://full.example.com/x.txt", ValidationValue: "c2"},
	})
	want := []string{
		"create DNS TXT record example.com = v1",
		"create DNS TXT record _dnsauth.www.shop.example.com = v2",
		"create DNS CNAME record _acme.a.example.org = x.cas.example.net",
		"serve http://files.example.com/.well-known/pki-validation/fileauth.txt with content c1",
		"serve http://full.example.com/x.txt with content c2",
	}
	if len(got) != len(want) {
		t.Fatalf("got %d validations, want %d: %+v", len(got), len(want), got)
	}
	for i, v := range got {
		if v.Instruction() != want[i] {
			t.Errorf("%d: %q, want %q", i, v.Instruction(), want[i])
		}
	}
}

func TestFitsAndBinding(t *testing.T) {
	one := aliyun.Instance{FullDomainCount: 1}
	wild := aliyun.Instance{FullDomainCount: 1, WildcardDomainCount: 1}
	cases := []struct {
		inst  aliyun.Instance
		names []string
		want  bool
	}{
		{one, []string{"a.example.com"}, true},
		{one, []string{"a.example.com", "b.example.com"}, false},
		{one, []string{"*.example.com"}, false},
		{wild, []string{"*.example.com", "example.com"}, true},
		{aliyun.Instance{}, []string{"a.example.com"}, true}, // no counts: one plain name
	}
	for _, c := range cases {
		if got := fits(c.inst, c.names); got != c.want {
			t.Errorf("fits(%+v, %v) = %v", c.inst, c.names, got)
		}
	}
	a, b := bindingName("default/web"), bindingName("default/api")
	if a == b || len(a) > 64 || a[:len(bindingPrefix)] != bindingPrefix || bindingName("default/web") != a {
		t.Errorf("binding names %q %q", a, b)
	}
}
