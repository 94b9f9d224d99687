package preflight

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Alibaba Cloud refuses a request whose timestamp is more than 15 minutes off (the common
// InvalidTimeStamp.Expired); a minute is worth a warning already.
const (
	maxSkew  = 15 * time.Minute
	warnSkew = time.Minute
)

// checkAuth makes one signed read and reports the signature and the clock; false stops
// the preflight (nothing else can be checked without an accepted signature).
func (p *run) checkAuth(ctx context.Context) bool {
	err := p.call(ctx, aliyun.CAS, "GetInstanceSummary", map[string]string{}, nil)
	sig := Line{Check: "signature", Item: hostOf(p.opts.Endpoint)}
	e, isAPI := aliyun.AsError(err)
	switch {
	case err == nil:
		sig.Status, sig.Result = StatusOK, "accepted"
	case isAPI && e.Reason == aliyun.ReasonClockSkew:
		sig.Status, sig.Result, sig.Detail = StatusSkip, "not checked", "the timestamp was refused first"
	case isAPI && (e.Reason == aliyun.ReasonInvalidCredentials || e.Reason == aliyun.ReasonCredentials):
		sig.Status, sig.Result, sig.Detail = StatusFail, "refused", e.Code+": "+credentialsHint(e.Code)
	case isAPI && e.HTTPStatus != 0:
		// Any other answer from the API (a RAM denial included) comes after the signature check.
		sig.Status, sig.Result, sig.Detail = StatusOK, "accepted", "the API answered "+e.Code
	default:
		sig.Status, sig.Result, sig.Detail = StatusFail, "no answer", err.Error()
	}
	p.rep.add(sig)
	p.rep.add(p.clockLine(e))
	return sig.Status == StatusOK && p.rep.Lines[len(p.rep.Lines)-1].Status != StatusFail
}

func credentialsHint(code string) string {
	switch {
	case strings.HasPrefix(code, "SignatureDoesNotMatch"), strings.HasPrefix(code, "InvalidAccessKeySecret"):
		return "the AccessKey secret does not match the AccessKey id"
	case strings.HasPrefix(code, "InvalidAccessKeyId.NotFound"):
		return "no such AccessKey id (deleted, or of another site)"
	case strings.HasPrefix(code, "InvalidAccessKeyId.Inactive"):
		return "the AccessKey is disabled"
	case strings.HasPrefix(code, "InvalidSecurityToken"):
		return "the STS SecurityToken is expired or does not belong to the AccessKey"
	}
	return "the credentials are not accepted"
}

func (p *run) clockLine(e *aliyun.Error) Line {
	l := Line{Check: "clock"}
	if e != nil && e.Reason == aliyun.ReasonClockSkew {
		l.Status, l.Result, l.Detail = StatusFail, "refused", e.Code+": set the clock (NTP); Alibaba Cloud accepts 15 minutes of skew"
		return l
	}
	skew, ok := p.clock.skew()
	if !ok {
		l.Status, l.Result, l.Detail = StatusOK, "timestamp accepted", "the answer had no Date header to compare with"
		return l
	}
	l.Result = "skew " + skew.Round(time.Second).String()
	switch abs := max(skew, -skew); {
	case abs > maxSkew:
		l.Status, l.Detail = StatusFail, "more than Alibaba Cloud's 15 minutes: set the clock (NTP)"
	case abs > warnSkew:
		l.Status, l.Detail = StatusWarn, "requests are refused beyond 15 minutes: set the clock (NTP)"
	default:
		l.Status = StatusOK
	}
	return l
}

func hostOf(endpoint string) string {
	_, rest, ok := strings.Cut(endpoint, "://")
	if !ok {
		return endpoint
	}
	return strings.TrimSuffix(rest, "/")
}

// entitlement is what the account holds, per orderAPI.
type entitlement struct {
	productCode string
	// V1.0 package of the product; pkgErr when it could not be read.
	pkg    *aliyun.PackageState
	pkgErr error
	// V2.0 instances: the summary, the inactive DV instances (the ones a new issuer can
	// take), or those of --instance-id.
	summary     *aliyun.InstanceSummary
	usable      int
	instErr     error
	instLines   []Line
	listedDV    int
	legacyCount int
	legacyErr   error
}

func (p *run) entitlements(ctx context.Context) *entitlement {
	ent := &entitlement{productCode: p.opts.ProductCode}
	ent.pkg, ent.pkgErr = p.client.DescribePackageState(ctx, p.opts.ProductCode)
	p.instances(ctx, ent)
	if l, err := p.client.DescribeOrderInstanceList(ctx, 1); err != nil {
		ent.legacyErr = err
	} else {
		ent.legacyCount = int(l.TotalCount)
	}
	return ent
}

// listPages bounds the instance listing (100 a page).
const listPages = 20

func (p *run) instances(ctx context.Context, ent *entitlement) {
	if ent.summary, ent.instErr = p.client.GetInstanceSummary(ctx); ent.instErr != nil {
		return
	}
	if len(p.opts.InstanceIDs) > 0 {
		for _, id := range p.opts.InstanceIDs {
			ent.instLines = append(ent.instLines, p.instanceLine(ctx, ent, id))
		}
		return
	}
	for page := 1; page <= listPages; page++ {
		l, err := p.client.ListInstances(ctx, aliyun.InstanceQuery{Status: aliyun.InstanceInactive, CertificateType: "DV", CurrentPage: page, ShowSize: 100})
		if err != nil {
			ent.instErr = err
			return
		}
		ent.listedDV += len(l.InstanceList)
		ent.usable += len(l.InstanceList)
		if len(l.InstanceList) == 0 || page*100 >= int(l.TotalCount) {
			return
		}
	}
}

func (p *run) instanceLine(ctx context.Context, ent *entitlement, id string) Line {
	l := Line{Check: "instance", Item: id}
	d, err := p.client.GetInstanceDetail(ctx, id)
	switch {
	case err != nil:
		l.Status, l.Result, l.Detail = StatusWarn, "unreadable", err.Error()
	case d.CertificateType != "" && d.CertificateType != "DV":
		l.Status, l.Result, l.Detail = StatusWarn, d.Status, "a "+d.CertificateType+" instance: the issuer orders DV certificates"
	case d.Status == aliyun.InstanceInactive:
		ent.usable++
		l.Status, l.Result = StatusOK, "inactive (usable)"
	case d.Status == aliyun.InstancePending:
		l.Status, l.Result, l.Detail = StatusWarn, "pending", "an application is in flight"
	default:
		l.Status, l.Result = StatusWarn, d.Status
	}
	return l
}

// lines are the entitlement lines; those chosen needs fail when they block it.
func (ent *entitlement) lines(chosen string) []Line {
	var out []Line
	// V2.0
	inst := Line{Check: "instances", Item: "V2.0 DV"}
	switch {
	case ent.instErr != nil:
		inst.Status, inst.Result, inst.Detail = StatusWarn, "unknown", ent.instErr.Error()
	default:
		inst.Result = fmt.Sprintf("%d usable", ent.usable)
		inst.Detail = fmt.Sprintf("%d instances, %d inactive, %d about to expire (GetInstanceSummary)", int(ent.summary.TotalCount), int(ent.summary.InactiveCount), int(ent.summary.WillExpireCount))
		inst.Status = StatusOK
		if ent.usable == 0 {
			inst.Status = StatusWarn
		}
	}
	if chosen == signer.OrderAPIInstance && ent.usable == 0 {
		inst.Status = StatusFail
		inst.Detail = joinDetail(inst.Detail, "buy a V2.0 DV instance (SSL Certificate Management V2.0)")
	}
	out = append(out, inst)
	out = append(out, ent.instLines...)
	// V1.0
	pkg := Line{Check: "package", Item: ent.productCode}
	switch {
	case ent.pkgErr != nil && aliyun.IsCode(ent.pkgErr, aliyun.CodeNotFoundPackage):
		pkg.Status, pkg.Result, pkg.Detail = StatusWarn, "none", "the account has no V1.0 package of this product (V1.0 packages can no longer be bought)"
	case ent.pkgErr != nil:
		pkg.Status, pkg.Result, pkg.Detail = StatusWarn, "unknown", ent.pkgErr.Error()
	default:
		left := ent.left()
		pkg.Result = fmt.Sprintf("%d of %d left", left, int(ent.pkg.TotalCount))
		pkg.Detail = fmt.Sprintf("%d used, %d issued (DescribePackageState)", int(ent.pkg.UsedCount), int(ent.pkg.IssuedCount))
		pkg.Status = StatusOK
		if left == 0 {
			pkg.Status = StatusWarn
		}
	}
	if chosen == signer.OrderAPICSR && ent.left() == 0 {
		pkg.Status = StatusFail
	}
	out = append(out, pkg)
	// CAS 2018-07-13
	leg := Line{Check: "legacy-api", Item: "CAS 2018-07-13"}
	switch {
	case ent.legacyErr == nil:
		leg.Status, leg.Result, leg.Detail = StatusOK, "answers", fmt.Sprintf("%d purchased instances listed (DescribeOrderInstanceList)", ent.legacyCount)
	case aliyun.IsCode(ent.legacyErr, "InvalidVersion", "InvalidApi", "InvalidAction"):
		leg.Status, leg.Result, leg.Detail = StatusWarn, "not served", "orderAPI DVOrder cannot work on this endpoint"
	default:
		leg.Status, leg.Result, leg.Detail = StatusWarn, "unknown", ent.legacyErr.Error()
	}
	if chosen == signer.OrderAPIDVOrder && (ent.legacyErr != nil || ent.legacyCount == 0) {
		leg.Status = StatusFail
	}
	out = append(out, leg)
	return out
}

func (ent *entitlement) left() int {
	if ent.pkg == nil {
		return 0
	}
	return max(int(ent.pkg.TotalCount)-int(ent.pkg.UsedCount), 0)
}

// recommendation is the orderAPI for the account and why.
type recommendation struct {
	orderAPI, why string
}

// recommend prefers V2.0 instances (the only thing new accounts can buy), then a V1.0
// package with certificates left, then CAS 2018-07-13 instances (Alibaba generates the key).
func (ent *entitlement) recommend() recommendation {
	switch {
	case ent.usable > 0:
		return recommendation{signer.OrderAPIInstance, fmt.Sprintf("%d usable V2.0 DV instances", ent.usable)}
	case ent.left() > 0:
		why := "no usable V2.0 instance"
		if ent.instErr != nil {
			why = "the V2.0 instances could not be read (see the instances line)"
		}
		return recommendation{signer.OrderAPICSR, fmt.Sprintf("%s; %d certificates left in the V1.0 package %s", why, ent.left(), ent.productCode)}
	case ent.legacyErr == nil && ent.legacyCount > 0:
		return recommendation{signer.OrderAPIDVOrder, fmt.Sprintf("only CAS 2018-07-13 instances (%d); Alibaba Cloud generates their keys (dvOrder.adoptServerKey)", ent.legacyCount)}
	}
	return recommendation{"", "no usable V2.0 instance, no V1.0 package with certificates left, no CAS 2018-07-13 instance: buy a V2.0 DV instance"}
}

func (r recommendation) line(asked string) Line {
	l := Line{Check: "recommendation", Item: "orderAPI", Result: orNone(r.orderAPI), Detail: r.why}
	switch {
	case r.orderAPI == "":
		l.Status = StatusFail
	case asked != "" && asked != r.orderAPI:
		l.Status, l.Detail = StatusWarn, r.why+" (checked: orderAPI "+asked+" as asked)"
	default:
		l.Status = StatusOK
	}
	return l
}

// checkZones finds the Alidns zone of every name (the longest zone that is a suffix, as
// the issuer's Alidns provider does), or checks that --zone covers it.
func (p *run) checkZones(ctx context.Context) {
	if len(p.opts.Names) == 0 {
		return
	}
	zones := []string{strings.ToLower(strings.TrimSuffix(p.opts.Zone, "."))}
	if p.opts.Zone == "" {
		var err error
		if zones, err = p.allZones(ctx); err != nil {
			p.rep.add(Line{Check: "alidns-zone", Status: StatusFail, Result: "unknown", Detail: err.Error()})
			return
		}
	}
	for _, n := range p.opts.Names {
		name := strings.ToLower(strings.TrimPrefix(strings.TrimSuffix(n, "."), "*."))
		l := Line{Check: "alidns-zone", Item: n}
		if z := longestSuffix(name, zones); z != "" {
			l.Status, l.Result = StatusOK, z
		} else {
			l.Status, l.Result, l.Detail = StatusFail, "no zone", "no Alidns zone of this account covers it: add the zone, or validate by hand (provider manual)"
		}
		p.rep.add(l)
	}
}

func (p *run) allZones(ctx context.Context) ([]string, error) {
	var zones []string
	for page := 1; page <= listPages; page++ {
		l, err := p.client.DescribeDomains(ctx, "", page, 100)
		if err != nil {
			return nil, err
		}
		for _, d := range l.Domains.Domain {
			zones = append(zones, strings.ToLower(strings.TrimSuffix(d.DomainName, ".")))
		}
		if len(l.Domains.Domain) == 0 || page*100 >= int(l.TotalCount) {
			break
		}
	}
	return zones, nil
}

func longestSuffix(name string, zones []string) string {
	best := ""
	for _, z := range zones {
		if z != "" && (name == z || strings.HasSuffix(name, "."+z)) && len(z) > len(best) {
			best = z
		}
	}
	return best
}
