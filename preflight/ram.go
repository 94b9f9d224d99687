package preflight

import (
	"context"
	"fmt"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// How a RAM action is checked without changing anything.
//
// A read action without required parameters is simply called (ListInstances,
// DescribePackageState, DescribeDomains, ...). Every other action (every write, and reads
// that need an id) gets a DRY call: the action with NO parameters of its own at all, only
// the common ones (signature, AccessKey, timestamp). Alibaba Cloud's gateway authorises
// the action before the action looks at its parameters, so the answer says which:
//   - the action's own complaint (MissingParameter, InvalidParameter, a NotFound code):
//     RAM let the call through, the permission is there;
//   - Forbidden.RAM (or another Forbidden*/NoPermission code, HTTP 403): denied.
//
// A dry call can never create anything: without an InstanceId, Csr, OrderId, DomainName
// or RecordId there is nothing to act on, and the client sends a write at most once
// (aliyun.Client.Call never retries a non-read action). dryCall takes no parameters, so
// no caller can give it any.
//
// That RAM comes before the parameter check is Alibaba's gateway practice, not a
// documented contract (unverified for CAS): were a gateway to check required parameters
// first, a denied action would answer MissingParameter too and be reported allowed. A
// "denied" line is therefore always reliable; an "allowed" line from a dry call is the
// best evidence short of calling for real, and says it was a dry call.

// ramAction is one RAM action an orderAPI or the validation needs.
type ramAction struct {
	api    aliyun.API
	action string
	// params, for a read called for real; nil means a dry call.
	params map[string]string
	// when says in which case it is needed ("" = always).
	when string
}

// ramCode is the RAM service code of an API: CAS's is yundun-cert (CAS "RAM
// authorization", help/doc-detail/465997).
func ramCode(api aliyun.API) string {
	if api.Product == aliyun.CAS.Product {
		return "yundun-cert"
	}
	return api.Product
}

func read(api aliyun.API, action string, params map[string]string) ramAction {
	if params == nil {
		params = map[string]string{}
	}
	return ramAction{api: api, action: action, params: params}
}

func dry(api aliyun.API, action string) ramAction { return ramAction{api: api, action: action} }

// actionsFor lists what an orderAPI calls, as the signer's flows do (the RAM policies of
// deploy/examples/ack say the same).
func actionsFor(orderAPI string, o Options) []ramAction {
	cas, legacy := aliyun.CAS, aliyun.CASLegacy
	switch orderAPI {
	case signer.OrderAPIInstance:
		acts := []ramAction{
			read(cas, "ListInstances", map[string]string{"CertificateType": "DV", "ShowSize": "1"}),
			read(cas, "GetInstanceSummary", nil),
			dry(cas, "GetInstanceDetail"),
			dry(cas, "UpdateInstance"),
			dry(cas, "ApplyCertificate"),
			dry(cas, "GetTaskAttribute"),
			dry(cas, "CancelPendingCertificate"),
			dry(cas, "GetUserCertificateDetail"),
		}
		if len(o.ContactIDs) == 0 {
			l := read(cas, "ListContact", map[string]string{"ShowSize": "1"})
			l.when = "without --contact-id (finds the contact by e-mail)"
			c := dry(cas, "CreateContact")
			c.when = "without --contact-id (creates the contact when absent)"
			acts = append(acts, l, c)
		}
		return acts
	case signer.OrderAPICSR:
		return []ramAction{
			read(cas, "DescribePackageState", map[string]string{"ProductCode": o.ProductCode}),
			dry(cas, "CreateCertificateWithCsrRequest"),
			dry(cas, "DescribeCertificateState"),
			dry(cas, "CancelOrderRequest"),
			dry(cas, "DeleteCertificateRequest"),
			read(cas, "ListUserCertificateOrder", map[string]string{"OrderType": "CPACK", "ShowSize": "1"}),
		}
	case signer.OrderAPIDVOrder:
		return []ramAction{
			read(legacy, "DescribeOrderInstanceList", map[string]string{"StartIndex": "1"}),
			dry(legacy, "CreateDVOrderAudit"),
			dry(legacy, "DescribeDVOrderResult"),
			read(legacy, "DescribeUserCertificateList", map[string]string{"CurrentPage": "1", "ShowSize": "1"}),
			dry(legacy, "DescribeUserCertificateDetail"),
			dry(legacy, "CreateUserCertificate"),
			dry(legacy, "DeleteUserCertificate"),
		}
	}
	return nil
}

// alidnsActions are what validation through Alidns calls.
func alidnsActions() []ramAction {
	dns := aliyun.Alidns
	return []ramAction{
		read(dns, "DescribeDomains", map[string]string{"PageSize": "1"}),
		dry(dns, "DescribeSubDomainRecords"),
		dry(dns, "AddDomainRecord"),
		dry(dns, "DeleteDomainRecord"),
	}
}

// dryCall sends action with no parameters of its own (see the top of this file).
func (p *run) dryCall(ctx context.Context, api aliyun.API, action string) error {
	return p.call(ctx, api, action, map[string]string{}, nil)
}

// checkRAM adds one line per action.
func (p *run) checkRAM(ctx context.Context, acts []ramAction) {
	for _, a := range acts {
		var err error
		how := "called"
		if a.params != nil {
			err = p.call(ctx, a.api, a.action, a.params, nil)
		} else {
			how = "dry call"
			err = p.dryCall(ctx, a.api, a.action)
		}
		l := ramLine(err, how)
		l.Item = ramCode(a.api) + ":" + a.action
		if a.when != "" {
			l.Detail = joinDetail(l.Detail, "needed "+a.when)
		}
		p.rep.add(l)
	}
}

// ramLine reads the answer to one RAM check.
func ramLine(err error, how string) Line {
	l := Line{Check: "ram"}
	if err == nil {
		l.Status, l.Result, l.Detail = StatusOK, "allowed", how
		if how == "dry call" {
			// An action that takes an empty call: nothing can have been acted on, but
			// say so, as it is not what the check expects.
			l.Status, l.Detail = StatusWarn, "dry call answered success without parameters"
		}
		return l
	}
	e, ok := aliyun.AsError(err)
	if !ok {
		l.Status, l.Result, l.Detail = StatusFail, "unknown", err.Error()
		return l
	}
	switch e.Reason {
	case aliyun.ReasonAccessDenied:
		l.Status, l.Result = StatusFail, "denied"
		l.Detail = fmt.Sprintf("%s (HTTP %d): grant it in the RAM policy", e.Code, e.HTTPStatus)
	case aliyun.ReasonUnsupportedAPI:
		l.Status, l.Result, l.Detail = StatusFail, "not served", e.Code+": the endpoint does not serve this action"
	case aliyun.ReasonInvalidCredentials, aliyun.ReasonClockSkew, aliyun.ReasonCredentials:
		l.Status, l.Result, l.Detail = StatusFail, "unknown", "the request was not authenticated ("+e.Code+")"
	default:
		if e.Class == aliyun.Transient || e.HTTPStatus == 0 {
			l.Status, l.Result, l.Detail = StatusWarn, "unknown", e.Error()
			return l
		}
		// The action itself answered: RAM let the call through.
		l.Status, l.Result = StatusOK, "allowed"
		l.Detail = fmt.Sprintf("%s, the action answered %s", how, e.Code)
	}
	return l
}

func joinDetail(a, b string) string {
	if a == "" {
		return b
	}
	return a + "; " + b
}
