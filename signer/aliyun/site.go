package aliyun

import (
	"net/url"
	"strings"
)

// Alibaba Cloud sells CAS on two sites: the China site (cas.aliyuncs.com,
// cas.cn-<region>.aliyuncs.com) and the international one
// (cas.ap-southeast-1.aliyuncs.com and other non-cn regions). The free DV
// product digicert-free-1-free is documented for the China site only.

// Site of a CAS endpoint.
type Site int

const (
	// SiteUnknown: not an aliyuncs.com host (a proxy, a simulator).
	SiteUnknown Site = iota
	SiteChina
	SiteInternational
)

// EndpointSite tells which site a CAS endpoint URL belongs to.
func EndpointSite(endpoint string) Site {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil {
		return SiteUnknown
	}
	host := strings.ToLower(u.Hostname())
	if host == "cas.aliyuncs.com" {
		return SiteChina
	}
	if m := regionHost.FindStringSubmatch(host); m != nil && strings.HasPrefix(host, "cas.") {
		if strings.HasPrefix(m[1], "cn-") {
			return SiteChina
		}
		return SiteInternational
	}
	return SiteUnknown
}

// SiteWarning is the warning for a free product used on an international
// endpoint, "" when there is nothing to say.
func SiteWarning(endpoint, productCode string) string {
	if !strings.Contains(strings.ToLower(productCode), "free") || EndpointSite(endpoint) != SiteInternational {
		return ""
	}
	return "product " + productCode + " is a free product documented for the China site (cas.aliyuncs.com) only; on the international endpoint " + endpoint + " orders for it will likely be refused"
}
