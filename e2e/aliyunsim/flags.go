package aliyunsim

import (
	"errors"
	"flag"
	"fmt"
	"strconv"
	"strings"
)

// Flags are the simulator's knobs as command-line flags, shared by the aliyunsim command and
// any other command that runs a simulator (so that every one of them takes the same flags).
// Bind them with BindFlags, parse the flag set, then call Config.
type Flags struct {
	cfg                                               Config
	keys, zones, foreign, packages, fail, roles, deny list
}

// list is a repeatable string flag.
type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// BindFlags defines the simulator's flags on fs. --listen is not among them: where the
// simulator listens belongs to the command that runs it.
func BindFlags(fs *flag.FlagSet) *Flags {
	f := &Flags{}
	cfg := &f.cfg
	fs.Var(&f.keys, "access-key", "ID:SECRET of an AccessKey pair (repeatable)")
	fs.Var(&f.zones, "zone", "an Alidns zone of the account (repeatable)")
	fs.Var(&f.foreign, "foreign-zone", "an Alidns zone of another account: record calls answer IncorrectDomainUser (repeatable)")
	fs.Var(&f.packages, "package", "CODE:QUOTA[:MAXNAMES] resource package of a product (repeatable; default "+DefaultProduct+":20)")
	fs.Var(&f.fail, "fail-domain", "domain suffix whose orders fail validation (repeatable)")
	fs.Var(&f.roles, "role", "RAM role ARN that STS lets callers assume (repeatable; none = any well-formed ARN)")
	fs.Var(&f.deny, "deny", "ID:ACTION: answer this RAM action (ApplyCertificate, yundun-cert:UpdateInstance, alidns:AddDomainRecord, yundun-cert:*) to AccessKey ID with a RAM denial (repeatable)")
	fs.StringVar(&cfg.DenyCode, "deny-code", DefaultDenyCode, "error code of a RAM denial")
	fs.IntVar(&cfg.DenyStatus, "deny-status", DefaultDenyStatus, "HTTP status of a RAM denial")
	fs.IntVar(&cfg.DVInstances, "dv-instances", 0, "number of purchased DV instances (CAS 2018-07-13)")
	fs.StringVar(&cfg.Validation, "validation", ValidationAuto, "domain validation: auto (at once) or dns (needs the TXT record or file)")
	fs.DurationVar(&cfg.ValidationDelay, "validation-delay", 0, "time from a validated proof to the CA's review")
	fs.DurationVar(&cfg.IssueDelay, "issue-delay", 0, "time from the review to the certificate")
	fs.Float64Var(&cfg.FaultRate, "fault-rate", 0, "fraction of signed calls that answer 500/503 or hang")
	fs.DurationVar(&cfg.FaultHang, "fault-hang", 0, "how long a hanging call hangs (default 10s)")
	fs.Float64Var(&cfg.ThrottleQPS, "throttle-qps", 0, "signed calls per second before Throttling.User (0 = unlimited)")
	fs.DurationVar(&cfg.Latency, "latency", 0, "latency added to every API call")
	fs.BoolVar(&cfg.StrictCN, "strict-cn", false, "refuse CSRs without a Common Name")
	fs.BoolVar(&cfg.CertCRLF, "cert-crlf", false, `answer certificates with "\r\n" line endings`)
	fs.StringVar(&cfg.CADir, "ca-dir", "", "directory of the CA (ca.pem, ca-key.pem, intermediate.pem, intermediate-key.pem): loaded, or written when empty")
	fs.StringVar(&cfg.DNSListen, "dns-listen", "", "UDP address of the DNS server for the zones (empty = off)")
	fs.DurationVar(&cfg.PayedWindow, "payed-window", 0, `how long a new order answers Type "payed" before asking for validation`)
	fs.StringVar(&cfg.RecordDomainForm, "record-domain-form", RecordDomainLabel, "RecordDomain of DNS proofs: label (_dnsauth) or relative (_dnsauth.www)")
	fs.StringVar(&cfg.DNSRecordType, "dns-record-type", "TXT", "record type of DNS proofs: TXT or CNAME")
	fs.StringVar(&cfg.LegacyAPI, "legacy-api", "", "answer every CAS 2018-07-13 call with this code: InvalidVersion or InvalidApi (empty = serve it)")
	bindV2Flags(fs, &cfg.V2)
	fs.BoolVar(&cfg.TLS, "tls", false, "serve HTTPS with a certificate from the simulator's CA")
	return f
}

// Config builds the configuration from the parsed flags. requireAccessKey makes a missing
// --access-key an error (the standalone command); without it, AccessKeys stays nil for the
// caller to fill. Packages stays nil (the library default) when no --package was given.
func (f *Flags) Config(requireAccessKey bool) (Config, error) {
	cfg := f.cfg
	if len(f.keys) == 0 && requireAccessKey {
		return cfg, errors.New("at least one --access-key ID:SECRET is required")
	}
	for _, k := range f.keys {
		id, secret, ok := strings.Cut(k, ":")
		if !ok || id == "" || secret == "" {
			return cfg, fmt.Errorf("--access-key %q: want ID:SECRET", k)
		}
		if cfg.AccessKeys == nil {
			cfg.AccessKeys = map[string]string{}
		}
		cfg.AccessKeys[id] = secret
	}
	for _, p := range f.packages {
		code, pkg, err := parsePackage(p)
		if err != nil {
			return cfg, err
		}
		if cfg.Packages == nil {
			cfg.Packages = map[string]Package{}
		}
		cfg.Packages[code] = pkg
	}
	for _, v := range f.deny {
		d, err := ParseDenial(v)
		if err != nil {
			return cfg, err
		}
		cfg.Denials = append(cfg.Denials, d)
	}
	cfg.Zones = append([]string(nil), f.zones...)
	cfg.ForeignZones = append([]string(nil), f.foreign...)
	cfg.FailDomains = append([]string(nil), f.fail...)
	cfg.Roles = append([]string(nil), f.roles...)
	return cfg, nil
}

// parsePackage reads CODE:QUOTA[:MAXNAMES].
func parsePackage(v string) (string, Package, error) {
	parts := strings.Split(v, ":")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return "", Package{}, fmt.Errorf("--package %q: want CODE:QUOTA[:MAXNAMES]", v)
	}
	quota, err := strconv.Atoi(parts[1])
	if err != nil || quota < 0 {
		return "", Package{}, fmt.Errorf("--package %q: the quota must be a non-negative integer", v)
	}
	pkg := Package{Quota: quota}
	if len(parts) == 3 {
		if pkg.MaxNames, err = strconv.Atoi(parts[2]); err != nil || pkg.MaxNames < 1 {
			return "", Package{}, fmt.Errorf("--package %q: the name limit must be a positive integer", v)
		}
	}
	return parts[0], pkg, nil
}
