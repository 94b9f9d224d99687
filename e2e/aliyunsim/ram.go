package aliyunsim

import (
	"fmt"
	"net/http"
	"strings"
)

// RAM-style denials: an AccessKey whose RAM user lacks a permission. Alibaba's gateway
// authorises the action once the request is authenticated, before the action looks at its
// own parameters; the simulator does the same, so a call denied here never reaches the
// action (and never changes any state).
//
// The code is the one Alibaba's help centre quotes for a RAM user without the permission:
// "Forbidden.RAM : User not authorized to operate on the specified resource, or this API
// doesn't support RAM." (help.aliyun.com/document_detail/160271.html). That page gives no
// HTTP status; 403 is the POP-wide practice for Forbidden* codes (unverified), so both are
// configurable (Config.DenyCode, Config.DenyStatus).

// Defaults of a RAM denial.
const (
	DefaultDenyCode   = "Forbidden.RAM"
	DefaultDenyStatus = http.StatusForbidden
	denyMessage       = "User not authorized to operate on the specified resource, or this API doesn't support RAM."
)

// Denial refuses one RAM action to one AccessKey. Action is "ApplyCertificate" (any
// product), "yundun-cert:ApplyCertificate" (CAS only), "alidns:AddDomainRecord", or a
// product wildcard such as "yundun-cert:*".
type Denial struct {
	AccessKeyID string
	Action      string
}

// ramCodes are the RAM service codes of the simulated API versions: CAS's is yundun-cert
// (the CAS "RAM authorization" page, help/doc-detail/465997).
var ramCodes = map[string]string{
	VersionCAS2018: "yundun-cert",
	VersionCAS2020: "yundun-cert",
	VersionAlidns:  "alidns",
	VersionSTS:     "sts",
}

// ParseDenial reads ID:Action (Action may itself carry a RAM code: ID:yundun-cert:Action).
func ParseDenial(v string) (Denial, error) {
	id, action, ok := strings.Cut(v, ":")
	if !ok || id == "" || action == "" || strings.HasSuffix(action, ":") {
		return Denial{}, fmt.Errorf("--deny %q: want ACCESSKEYID:ACTION or ACCESSKEYID:RAMCODE:ACTION", v)
	}
	return Denial{AccessKeyID: id, Action: action}, nil
}

// matches reports whether d refuses action of the API version to key.
func (d Denial) matches(key, version, action string) bool {
	if d.AccessKeyID != key {
		return false
	}
	code, name, qualified := strings.Cut(d.Action, ":")
	if !qualified {
		return d.Action == action || d.Action == "*"
	}
	return code == ramCodes[version] && (name == action || name == "*")
}

// authorize refuses c when a denial names its key and action; the caller holds s.mu.
func (s *Simulator) authorize(c *call) *apiError {
	for _, d := range s.cfg.Denials {
		if d.matches(c.accessKeyID, c.version, c.action) {
			return newErr(s.cfg.DenyStatus, s.cfg.DenyCode, "%s", denyMessage)
		}
	}
	return nil
}

// normalizeDenials fills the denial defaults.
func (cfg *Config) normalizeDenials() error {
	if cfg.DenyCode == "" {
		cfg.DenyCode = DefaultDenyCode
	}
	if cfg.DenyStatus == 0 {
		cfg.DenyStatus = DefaultDenyStatus
	}
	if cfg.DenyStatus < 400 || cfg.DenyStatus > 599 {
		return fmt.Errorf("aliyunsim: deny status %d is not an HTTP error status", cfg.DenyStatus)
	}
	cfg.Denials = append([]Denial(nil), cfg.Denials...)
	return nil
}
