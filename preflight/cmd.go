package preflight

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Exit codes of Main.
const (
	ExitOK        = 0 // issuing can work
	ExitCannot    = 1 // a check failed: issuing cannot work as configured
	ExitBadUsage  = 2 // bad flags or options
	ExitNoCreds   = 3 // no credentials in the environment
	defaultOutput = "table"
)

// Environment variables read for credentials, as credentials-go names them. Without an
// AccessKey pair, the credentials-go default chain runs: RRSA (ALIBABA_CLOUD_ROLE_ARN,
// ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE), CLI profile, ECS RAM
// role, credentials URI.
const (
	envAccessKeyID     = "ALIBABA_CLOUD_ACCESS_KEY_ID"
	envAccessKeySecret = "ALIBABA_CLOUD_ACCESS_KEY_SECRET"
	envSecurityToken   = "ALIBABA_CLOUD_SECURITY_TOKEN"
)

// Main runs `aliyun-cas-issuer preflight` with args (after the subcommand); getenv reads
// the environment. It returns the exit code.
func Main(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("aliyun-cas-issuer preflight", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		o             Options
		instanceIDs   stringList
		contactIDs    stringList
		names         stringList
		output        string
		dnsProvider   string
		assumeRoleARN string
	)
	fs.StringVar(&o.Endpoint, "endpoint", signer.DefaultEndpoint, "CAS endpoint (https://cas.ap-southeast-1.aliyuncs.com on the international site)")
	fs.StringVar(&o.DNSEndpoint, "alidns-endpoint", signer.DefaultDNSEndpoint, "Alidns endpoint")
	fs.StringVar(&o.Credentials.STSEndpoint, "sts-endpoint", "", "STS endpoint for RRSA and --role-arn (default https://sts.aliyuncs.com)")
	fs.StringVar(&assumeRoleARN, "role-arn", "", "RAM role to assume on top of the credentials (the issuer's spec.auth.roleARN)")
	fs.StringVar(&o.OrderAPI, "order-api", "", "orderAPI to check: Instance, CSR or DVOrder (default: the one recommended for the account)")
	fs.StringVar(&o.ProductCode, "product-code", signer.DefaultProductCode, "V1.0 product code (orderAPI CSR)")
	fs.Var(&instanceIDs, "instance-id", "V2.0 instance id the issuer may use (spec.instance.instanceIDs; repeatable or comma-separated)")
	fs.Var(&contactIDs, "contact-id", "CAS contact id (spec.instance.contactIDs; repeatable or comma-separated)")
	fs.StringVar(&dnsProvider, "dns-provider", "", "validation DNS provider: manual or alidns (default alidns when --name or --zone is given)")
	fs.StringVar(&o.Zone, "zone", "", "Alidns zone the names are in (spec.validation.dns.alidns.zone; default: found with DescribeDomains)")
	fs.Var(&names, "name", "domain name to issue for, checked against the Alidns zones (repeatable or comma-separated)")
	fs.StringVar(&output, "output", defaultOutput, "output format: table or json")
	fs.BoolVar(&o.AllowInsecure, "allow-insecure-endpoints", false, "accept plain-HTTP and private endpoints (test setups only)")
	fs.DurationVar(&o.Timeout, "timeout", 15*time.Second, "timeout of one call")
	if err := fs.Parse(args); err != nil {
		return ExitBadUsage
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "preflight: unexpected arguments %q\n", fs.Args())
		return ExitBadUsage
	}
	if output != "table" && output != "json" {
		fmt.Fprintln(stderr, "preflight: --output must be table or json")
		return ExitBadUsage
	}
	switch dnsProvider {
	case "":
		o.Alidns = len(names) > 0 || o.Zone != ""
	case signer.DNSProviderAlidns:
		o.Alidns = true
	case signer.DNSProviderManual:
	default:
		fmt.Fprintln(stderr, "preflight: --dns-provider must be manual or alidns")
		return ExitBadUsage
	}
	o.InstanceIDs, o.Names = instanceIDs, names
	for _, c := range contactIDs {
		id, err := strconv.ParseInt(c, 10, 64)
		if err != nil || id <= 0 {
			fmt.Fprintf(stderr, "preflight: --contact-id %q is not a contact id\n", c)
			return ExitBadUsage
		}
		o.ContactIDs = append(o.ContactIDs, id)
	}
	creds, err := credentialsFromEnv(getenv)
	if err != nil {
		fmt.Fprintln(stderr, "preflight:", err)
		return ExitNoCreds
	}
	creds.STSEndpoint = o.Credentials.STSEndpoint
	creds.RoleARN = assumeRoleARN
	o.Credentials = creds

	rep, err := Run(ctx, o)
	if err != nil {
		fmt.Fprintln(stderr, "preflight:", err)
		return ExitBadUsage
	}
	if output == "json" {
		err = rep.WriteJSON(stdout)
	} else {
		err = rep.WriteTable(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "preflight:", err)
		return ExitCannot
	}
	if !rep.CanIssue {
		return ExitCannot
	}
	return ExitOK
}

// credentialsFromEnv reads an AccessKey pair (with an optional STS token) from the
// environment, as credentials-go's environment provider does; without one, the
// credentials-go default chain is used (RRSA and the rest), if anything is there for it.
func credentialsFromEnv(getenv func(string) string) (aliyun.Credentials, error) {
	id, secret := getenv(envAccessKeyID), getenv(envAccessKeySecret)
	switch {
	case id != "" && secret != "":
		return aliyun.Credentials{AccessKeyID: id, AccessKeySecret: secret, SecurityToken: getenv(envSecurityToken)}, nil
	case id != "" || secret != "":
		return aliyun.Credentials{}, fmt.Errorf("set both %s and %s", envAccessKeyID, envAccessKeySecret)
	}
	return aliyun.Credentials{Ambient: true}, nil
}

// stringList is a repeatable, comma-separated flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}
