package aliyun

import (
	"strings"
	"testing"
)

func TestEndpointSiteAndFreeProductWarning(t *testing.T) {
	for ep, want := range map[string]Site{
		"https://cas.aliyuncs.com":                   SiteChina,
		"https://cas.cn-hangzhou.aliyuncs.com":       SiteChina,
		"https://cas.ap-southeast-1.aliyuncs.com":    SiteInternational,
		"https://127.0.0.1:8443":                     SiteUnknown,
		"https://alidns.ap-southeast-1.aliyuncs.com": SiteUnknown,
	} {
		if got := EndpointSite(ep); got != want {
			t.Errorf("%s: site %d, want %d", ep, got, want)
		}
	}
	if w := SiteWarning("https://cas.ap-southeast-1.aliyuncs.com", "digicert-free-1-free"); !strings.Contains(w, "China site") {
		t.Errorf("no warning for a free product on the international site: %q", w)
	}
	for _, c := range [][2]string{
		{"https://cas.aliyuncs.com", "digicert-free-1-free"},
		{"https://cas.ap-southeast-1.aliyuncs.com", "geotrust-dv-1-starter"},
		{"http://127.0.0.1:1234", "digicert-free-1-free"},
	} {
		if w := SiteWarning(c[0], c[1]); w != "" {
			t.Errorf("%v: unexpected warning %q", c, w)
		}
	}
}
