package aliyunsim

import (
	"fmt"
	"strings"
	"time"
)

// Validation modes.
const (
	// ValidationAuto validates every order as soon as it is created.
	ValidationAuto = "auto"
	// ValidationDNS validates an order only when its proof exists: a TXT record in one of the
	// simulator's Alidns zones, or a file registered through PUT /_sim/files.
	ValidationDNS = "dns"
)

// DefaultProduct is the product code used when a create call names none (Alibaba's default is
// the free single-domain DV product).
const DefaultProduct = "digicert-free-1-free"

// Package is a resource package bought for one product: how many certificates may be ordered,
// and optionally how many names each may carry (0 keeps the product's own limit).
type Package struct {
	Quota    int
	MaxNames int
}

// Config is everything the simulator can be told at start. The zero value of each field is a
// sensible default except AccessKeys, which must name at least one pair.
type Config struct {
	AccessKeys map[string]string // AccessKeyId -> AccessKeySecret
	Zones      []string          // Alidns zones of the account
	// ForeignZones are zones hosted in Alidns by another account: record calls for them answer
	// IncorrectDomainUser.
	ForeignZones []string
	// Packages maps a product code to its resource package. nil means
	// {DefaultProduct: {Quota: 20}}; an empty, non-nil map means no packages at all.
	Packages map[string]Package
	// DVInstances is the number of purchased DV certificate instances (CAS 2018-07-13).
	DVInstances int
	// V2 configures the V2.0 subscription instances (CAS 2020-04-07).
	V2 V2Config
	// Validation is ValidationAuto (default) or ValidationDNS.
	Validation string
	// ValidationDelay is the time from a validated proof to the CA's review (`process`);
	// IssueDelay the time from there to the certificate.
	ValidationDelay, IssueDelay time.Duration
	// FailDomains are domain suffixes whose orders end in verify_fail / checked_fail.
	FailDomains []string
	// FaultRate is the fraction of signed API calls that answer 500/503 or hang.
	FaultRate float64
	// FaultHang is how long a hanging call hangs (default 10s).
	FaultHang time.Duration
	// ThrottleQPS limits signed API calls (token bucket, burst = max(1, QPS)); 0 is unlimited.
	ThrottleQPS float64
	// Latency is added to every API call.
	Latency time.Duration
	// StrictCN refuses a CSR without a Common Name.
	StrictCN bool
	// CADir holds the CA (ca.pem, ca-key.pem, intermediate.pem, intermediate-key.pem): loaded when
	// present, written there when the directory is empty or missing. "" keeps the CA in memory.
	CADir string
	// DNSListen is a UDP address ("127.0.0.1:0") for the DNS server of the Alidns zones; "" is off.
	DNSListen string
	// Roles restricts the RAM roles STS lets callers assume; empty accepts any well-formed ARN.
	Roles []string
	// CertCRLF answers certificates with "\r\n" line endings, to exercise clients' normalisation.
	CertCRLF bool
	// PayedWindow is how long a new CAS 2020-04-07 order answers DescribeCertificateState with
	// Type "payed" (pending application) before it asks for validation. Alibaba documents
	// "payed" as 待申请; whether a fresh order shows it, and for how long, is (unverified):
	// 0, the default, never shows it.
	PayedWindow time.Duration
	// RecordDomainForm is how DescribeCertificateState gives the DNS proof's host record:
	// RecordDomainLabel ("_dnsauth", the default) or RecordDomainRelative ("_dnsauth.www",
	// relative to the zone). The reference calls it a host record (主机记录) without saying
	// which form; both are seen in the field (unverified).
	RecordDomainForm string
	// DNSRecordType is the proof's record type: "TXT" (default) or "CNAME" (the reference
	// allows both for RecordType).
	DNSRecordType string
	// LegacyAPI is how the CAS 2018-07-13 actions answer: "" serves them; "InvalidVersion" or
	// "InvalidApi" refuses every call of that version with that code, as a current account
	// likely does (Alibaba's SDK dropped the version in 2021; its API metadata lists no
	// operations for it since 2024).
	LegacyAPI string
	// Denials refuse RAM actions to AccessKeys (ram.go); DenyCode and DenyStatus are the
	// answer (default Forbidden.RAM, 403).
	Denials    []Denial
	DenyCode   string
	DenyStatus int
	// TLS makes Start serve HTTPS with a certificate from the simulator's CA (for clients, such
	// as credentials-go's STS providers, that only speak HTTPS). Trust RootPEM to use it.
	TLS bool
	// Logf receives one line per API call and notable events; nil is silent.
	Logf func(format string, args ...any)
	// Now is the simulator's clock (orders, signatures, STS tokens); nil is time.Now. Tests
	// that move it move time for the client too: requests signed more than 15 minutes away
	// from it are refused.
	Now func() time.Time
}

// runtimeConfig is the part of the configuration that may change while the simulator runs
// (SetFaultRate, POST /_sim/config, ...). It is guarded by Simulator.mu.
type runtimeConfig struct {
	validation      string
	validationDelay time.Duration
	issueDelay      time.Duration
	faultRate       float64
	faultHang       time.Duration
	throttleQPS     float64
	latency         time.Duration
	strictCN        bool
	certCRLF        bool
	payedWindow     time.Duration
	recordForm      string
	recordType      string
}

// RecordDomain forms (Config.RecordDomainForm).
const (
	RecordDomainLabel    = "label"
	RecordDomainRelative = "relative"
)

// Legacy API refusals (Config.LegacyAPI).
const (
	LegacyInvalidVersion = "InvalidVersion"
	LegacyInvalidAPI     = "InvalidApi"
)

// normalize checks cfg and fills the defaults; it returns a copy so the caller's maps are not
// shared with the running simulator.
func (cfg Config) normalize() (Config, error) {
	if len(cfg.AccessKeys) == 0 {
		return cfg, fmt.Errorf("aliyunsim: at least one access key is required")
	}
	keys := make(map[string]string, len(cfg.AccessKeys))
	for id, secret := range cfg.AccessKeys {
		if id == "" || secret == "" {
			return cfg, fmt.Errorf("aliyunsim: access key %q: id and secret must be non-empty", id)
		}
		if strings.HasPrefix(id, stsKeyPrefix) {
			return cfg, fmt.Errorf("aliyunsim: access key %q: the prefix %q is reserved for STS credentials", id, stsKeyPrefix)
		}
		keys[id] = secret
	}
	cfg.AccessKeys = keys

	if err := cfg.normalizeDenials(); err != nil {
		return cfg, err
	}
	if cfg.Validation == "" {
		cfg.Validation = ValidationAuto
	}
	if err := checkValidationMode(cfg.Validation); err != nil {
		return cfg, err
	}
	if cfg.FaultRate < 0 || cfg.FaultRate > 1 {
		return cfg, fmt.Errorf("aliyunsim: fault rate %v is outside [0, 1]", cfg.FaultRate)
	}
	if cfg.FaultHang <= 0 {
		cfg.FaultHang = 10 * time.Second
	}
	if cfg.ThrottleQPS < 0 {
		return cfg, fmt.Errorf("aliyunsim: throttle QPS %v is negative", cfg.ThrottleQPS)
	}
	if cfg.ValidationDelay < 0 || cfg.IssueDelay < 0 || cfg.Latency < 0 {
		return cfg, fmt.Errorf("aliyunsim: delays must not be negative")
	}
	if cfg.PayedWindow < 0 {
		return cfg, fmt.Errorf("aliyunsim: the payed window must not be negative")
	}
	switch cfg.RecordDomainForm {
	case "":
		cfg.RecordDomainForm = RecordDomainLabel
	case RecordDomainLabel, RecordDomainRelative:
	default:
		return cfg, fmt.Errorf("aliyunsim: record domain form %q is neither %q nor %q", cfg.RecordDomainForm, RecordDomainLabel, RecordDomainRelative)
	}
	cfg.DNSRecordType = strings.ToUpper(cfg.DNSRecordType)
	switch cfg.DNSRecordType {
	case "":
		cfg.DNSRecordType = "TXT"
	case "TXT", "CNAME":
	default:
		return cfg, fmt.Errorf("aliyunsim: DNS proof record type %q is neither TXT nor CNAME", cfg.DNSRecordType)
	}
	switch cfg.LegacyAPI {
	case "", LegacyInvalidVersion, LegacyInvalidAPI:
	default:
		return cfg, fmt.Errorf("aliyunsim: legacy API answer %q is none of \"\", %q, %q", cfg.LegacyAPI, LegacyInvalidVersion, LegacyInvalidAPI)
	}
	if cfg.DVInstances < 0 {
		return cfg, fmt.Errorf("aliyunsim: DV instance count %d is negative", cfg.DVInstances)
	}

	if err := cfg.V2.normalize(); err != nil {
		return cfg, err
	}

	if cfg.Packages == nil {
		cfg.Packages = map[string]Package{DefaultProduct: {Quota: 20}}
	}
	pkgs := make(map[string]Package, len(cfg.Packages))
	for code, p := range cfg.Packages {
		prod, ok := products[code]
		if !ok {
			return cfg, fmt.Errorf("aliyunsim: package for unknown product %q (known: %s)", code, strings.Join(productCodes(), ", "))
		}
		if p.Quota < 0 || p.MaxNames < 0 {
			return cfg, fmt.Errorf("aliyunsim: package %q: quota and max names must not be negative", code)
		}
		if p.MaxNames == 0 {
			p.MaxNames = prod.MaxNames
		}
		pkgs[code] = p
	}
	cfg.Packages = pkgs

	zones, err := normalizeZones(cfg.Zones)
	if err != nil {
		return cfg, err
	}
	foreign, err := normalizeZones(cfg.ForeignZones)
	if err != nil {
		return cfg, err
	}
	for _, z := range foreign {
		for _, own := range zones {
			if z == own {
				return cfg, fmt.Errorf("aliyunsim: zone %q is both the account's and a foreign one", z)
			}
		}
	}
	cfg.Zones, cfg.ForeignZones = zones, foreign

	var fail []string
	for _, d := range cfg.FailDomains {
		d = strings.Trim(strings.ToLower(strings.TrimSpace(d)), ".")
		if d == "" {
			return cfg, fmt.Errorf("aliyunsim: empty fail domain")
		}
		fail = append(fail, d)
	}
	cfg.FailDomains = fail

	for _, r := range cfg.Roles {
		if !roleArnRE.MatchString(r) {
			return cfg, fmt.Errorf("aliyunsim: role %q is not of the form acs:ram::<uid>:role/<name>", r)
		}
	}
	cfg.Roles = append([]string(nil), cfg.Roles...)
	return cfg, nil
}

func checkValidationMode(mode string) error {
	if mode != ValidationAuto && mode != ValidationDNS {
		return fmt.Errorf("aliyunsim: validation mode %q is neither %q nor %q", mode, ValidationAuto, ValidationDNS)
	}
	return nil
}

func normalizeZones(in []string) ([]string, error) {
	var out []string
	seen := map[string]bool{}
	for _, z := range in {
		z = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(z)), ".")
		if err := checkHostname(z, false); err != nil {
			return nil, fmt.Errorf("aliyunsim: zone %q: %v", z, err)
		}
		if !seen[z] {
			seen[z] = true
			out = append(out, z)
		}
	}
	return out, nil
}
