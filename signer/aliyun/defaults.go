package aliyun

import "time"

// Default endpoints and limits. The issuer fills its configuration in one
// place (signer.Config.WithDefaults, which names these); New applies them
// too, for callers of this package alone.
const (
	DefaultEndpoint    = "https://cas.aliyuncs.com"
	DefaultDNSEndpoint = "https://alidns.aliyuncs.com"
	DefaultSTSEndpoint = "https://sts.aliyuncs.com"
	DefaultTimeout     = 30 * time.Second
	DefaultRateLimit   = 5
	DefaultBurst       = 10
	DefaultMaxAttempts = 4
	DefaultRegion      = "cn-hangzhou"
)
