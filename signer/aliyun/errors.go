package aliyun

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"time"

	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
)

// Class is what a caller should do about a failed call.
type Class int

const (
	// Transient failures are retried later; the call may succeed as it is.
	Transient Class = iota
	// Permanent failures will fail again for the same input (invalid
	// parameter, quota exhausted, validation failed at the CA).
	Permanent
	// Issuer failures come from the issuer's configuration or credentials
	// (bad AccessKey, no permission, wrong endpoint, unsupported API).
	Issuer
)

func (c Class) String() string {
	switch c {
	case Permanent:
		return "permanent"
	case Issuer:
		return "issuer"
	default:
		return "transient"
	}
}

// Reasons set on Error.Reason: short CamelCase words for conditions.
const (
	ReasonThrottled           = "Throttled"
	ReasonUnavailable         = "ServiceUnavailable"
	ReasonTimeout             = "Timeout"
	ReasonNetwork             = "NetworkError"
	ReasonInvalidCredentials  = "InvalidCredentials"
	ReasonAccessDenied        = "AccessDenied"
	ReasonUnsupportedAPI      = "UnsupportedAPI"
	ReasonEndpointUnreachable = "EndpointUnreachable"
	ReasonBadEndpoint         = "BadEndpoint"
	ReasonClockSkew           = "ClockSkew"
	ReasonMisconfigured       = "Misconfigured"
	ReasonQuotaExhausted      = "QuotaExhausted"
	ReasonInvalidParameter    = "InvalidParameter"
	ReasonUnsupportedProduct  = "UnsupportedProduct"
	ReasonRejected            = "Rejected"
	ReasonCredentials         = "CredentialsUnavailable"
	// ReasonNoPackage: the account has no resource package for the
	// product (NotFoundPackage): the issuer cannot order until one is
	// bought or the product code changed.
	ReasonNoPackage = "NoPackage"
	// ReasonOrderNotFound: CAS knows no order with this id (NotFoundOrder).
	ReasonOrderNotFound = "OrderNotFound"
	// ReasonOrderState: the order is not in a state the action accepts
	// (OrderStateError, DeleteFail).
	ReasonOrderState = "OrderStateError"
)

// CAS error codes, as the CAS 2020-04-07 error table publishes them (the
// DeleteCertificateRequest and CreateCertificateForPackageRequest API
// references): code, HTTP status.
const (
	CodeNotRemainCount  = "NotRemainCount"  // 404: the package has no certificate left
	CodeNotFoundPackage = "NotFoundPackage" // 404: no package for the product
	CodeNotFoundOrder   = "NotFoundOrder"   // 404: no such order
	CodeOrderStateError = "OrderStateError" // 403: the order's state forbids the action
	CodeDeleteFail      = "DeleteFail"      // 403: the order cannot be deleted in its state
)

// Error is a failed call, classified. Every error Call returns for a remote
// failure is an *Error (possibly wrapped).
type Error struct {
	// Product and Action name the call, e.g. "cas", "DescribeCertificateState".
	Product string
	Action  string
	// Code is Alibaba Cloud's error code ("InvalidParameter", "Throttling.User")
	// or, for failures that never got an answer, a local one ("Timeout",
	// "ConnectionRefused", "HostNotFound", ...).
	Code string
	// Message is the server's message (shortened) or the local cause.
	Message string
	// RequestID is the server's request id when there was an answer.
	RequestID string
	// HTTPStatus is the answer's status, 0 when there was none.
	HTTPStatus int
	Class      Class
	// Reason is a short CamelCase word for conditions and Events.
	Reason string
	// Throttled is set for Throttling* answers and client-side throttle
	// pauses; RetryAfter then says when to try again.
	Throttled  bool
	RetryAfter time.Duration
	// OutcomeUnknown is set when the request may have been executed although
	// no success was seen (timeout after sending, connection lost, 5xx, an
	// unreadable 2xx). A create that failed this way may have created.
	OutcomeUnknown bool
	// Err is the underlying error, if any.
	Err error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Product)
	if e.Action != "" {
		b.WriteByte(' ')
		b.WriteString(e.Action)
	}
	b.WriteString(": ")
	if e.Code != "" {
		b.WriteString(e.Code)
		if e.Message != "" {
			b.WriteString(": ")
		}
	}
	b.WriteString(e.Message)
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.RequestID != "" {
			b.WriteString(", RequestId ")
			b.WriteString(e.RequestID)
		}
		b.WriteByte(')')
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}

// IsCode reports whether err is an *Error whose code is one of codes or
// starts with one of them followed by ".", e.g. IsCode(err, "Throttling")
// matches "Throttling.User".
func IsCode(err error, codes ...string) bool {
	e, ok := AsError(err)
	if !ok {
		return false
	}
	for _, c := range codes {
		if codeHasPrefix(e.Code, c) {
			return true
		}
	}
	return false
}

func codeHasPrefix(code, prefix string) bool {
	return code == prefix || strings.HasPrefix(code, prefix+".")
}

func hasAnyPrefix(code string, prefixes ...string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(code, p) {
			return true
		}
	}
	return false
}

// classifyServer fills Class/Reason/Throttled for an answer with an error
// code (or a non-2xx status without one).
func (e *Error) classifyServer() {
	code := e.Code
	lc := strings.ToLower(code)
	switch {
	case code == CodeNotRemainCount:
		e.Class, e.Reason = Permanent, ReasonQuotaExhausted
		e.Message = "the resource package has no certificate left: " + e.Message
	case code == CodeNotFoundPackage:
		e.Class, e.Reason = Issuer, ReasonNoPackage
		e.Message = "the account has no resource package for this product: " + e.Message
	case code == CodeNotFoundOrder:
		e.Class, e.Reason = Permanent, ReasonOrderNotFound
	case code == CodeOrderStateError || code == CodeDeleteFail:
		e.Class, e.Reason = Permanent, ReasonOrderState
	case hasAnyPrefix(code, "AuthenticationFail"):
		// STS: AuthenticationFail.OIDCToken.Invalid / .Expired (401).
		e.Class, e.Reason = Issuer, ReasonInvalidCredentials
	case hasAnyPrefix(code, "Throttling", "Throttled", "RequestThrottled", "Flowlimit", "FlowLimit", "TooManyRequests", "ServiceBusy") || e.HTTPStatus == http.StatusTooManyRequests:
		e.Class, e.Reason, e.Throttled = Transient, ReasonThrottled, true
	case hasAnyPrefix(code, "ServiceUnavailable", "InternalError", "UnknownError", "Unavailable", "SystemBusy", "System.Busy", "Timeout", "OperationTimeout"):
		e.Class, e.Reason = Transient, ReasonUnavailable
	case code == "SignatureNonceUsed":
		// The server refused a replayed nonce: nothing was executed, and
		// the next attempt gets a fresh one.
		e.Class, e.Reason = Transient, ReasonRejected
	case strings.Contains(lc, "quota") || strings.Contains(lc, "insufficient") || strings.Contains(lc, "notenough") || strings.Contains(lc, "exhausted"):
		e.Class, e.Reason = Permanent, ReasonQuotaExhausted
	case hasAnyPrefix(code, "InvalidAccessKeyId", "InvalidAccessKeySecret", "SignatureDoesNotMatch", "IncompleteSignature", "InvalidSecurityToken", "InvalidAuthorization", "MissingSecurityToken", "InvalidSignature"):
		e.Class, e.Reason = Issuer, ReasonInvalidCredentials
	case hasAnyPrefix(code, "Forbidden", "NoPermission", "Unauthorized", "AccessDenied", "NotAuthorized", "EntityNotExist.Role", "UserDisabled", "Account.Arrearage", "InDebt"):
		e.Class, e.Reason = Issuer, ReasonAccessDenied
	case hasAnyPrefix(code, "InvalidAction", "InvalidVersion", "UnsupportedOperation", "InvalidApi", "UnsupportedAPI", "OperationUnsupported"):
		e.Class, e.Reason = Issuer, ReasonUnsupportedAPI
		e.Message = "the endpoint does not support this API: " + e.Message
	case hasAnyPrefix(code, "InvalidTimeStamp", "InvalidTimestamp", "RequestTimeTooSkewed"):
		e.Class, e.Reason = Issuer, ReasonClockSkew
	case strings.HasPrefix(code, "Missing"):
		// The request lacks something only the issuer's configuration can
		// supply (contact details, product code).
		e.Class, e.Reason = Issuer, ReasonMisconfigured
	case strings.Contains(lc, "product"):
		e.Class, e.Reason = Permanent, ReasonUnsupportedProduct
	case hasAnyPrefix(code, "InvalidParameter", "InvalidParam", "IllegalParam", "Invalid"):
		e.Class, e.Reason = Permanent, ReasonInvalidParameter
	case code == "" && e.HTTPStatus >= 500:
		e.Class, e.Reason = Transient, ReasonUnavailable
	case code == "" && (e.HTTPStatus == http.StatusNotFound || e.HTTPStatus == http.StatusMethodNotAllowed || e.HTTPStatus == http.StatusNotImplemented):
		e.Class, e.Reason = Issuer, ReasonBadEndpoint
		e.Message = "the endpoint does not answer like an Alibaba Cloud API: " + e.Message
	case code == "" && (e.HTTPStatus == http.StatusUnauthorized || e.HTTPStatus == http.StatusForbidden):
		e.Class, e.Reason = Issuer, ReasonAccessDenied
	case e.HTTPStatus >= 500:
		e.Class, e.Reason = Transient, ReasonUnavailable
	default:
		// Any other 4xx answer with a code: the CA refused this input.
		e.Class, e.Reason = Permanent, ReasonRejected
	}
	if e.HTTPStatus >= 500 && !e.Throttled {
		e.OutcomeUnknown = true
	}
}

// explainLegacy says plainly that an endpoint refusing CAS 2018-07-13 is
// the legacy API being gone: Alibaba's SDK dropped that version in 2021 and
// its API metadata lists no operations for it since 2024.
func (e *Error) explainLegacy(api API) {
	if api == CASLegacy && (codeHasPrefix(e.Code, "InvalidVersion") || codeHasPrefix(e.Code, "InvalidApi")) {
		e.Message = "this endpoint no longer serves CAS 2018-07-13, the legacy API of orderAPI DVOrder; use orderAPI CSR (" + e.Message + ")"
	}
}

// fromSDK turns what the SDK returned into an *Error.
func fromSDK(product, action string, err error, parentCtx context.Context) *Error {
	e := &Error{Product: product, Action: action, Err: err}
	var se *sdkerrors.ServerError
	if errors.As(err, &se) {
		e.Code = se.ErrorCode()
		e.RequestID = se.RequestId()
		e.HTTPStatus = se.HttpStatus()
		e.Message = shortenMessage(se.Message())
		if e.Code == "" && e.RequestID == "" {
			// Not an Alibaba Cloud answer (a proxy's or web server's page):
			// its body never reaches conditions or Events.
			e.Message = bodySummary(se.Message())
		}
		e.Err = nil // its text repeats headers; Message carries what matters
		if ra := retryAfterHeader(se.RespHeaders); ra > 0 {
			e.RetryAfter = ra
		}
		e.classifyServer()
		if e.Code == sdkerrors.SignatureDostNotMatchErrorCode && strings.HasPrefix(se.Recommend(), "InvalidAccessKeySecret") {
			// The SDK compared the server's string to sign with its own:
			// they match, so the secret is wrong.
			e.Message = "the AccessKey secret is wrong for this AccessKey ID (" + e.Message + ")"
		}
		return e
	}
	var ce *credentialsError
	if errors.As(err, &ce) {
		if inner, ok := AsError(ce.err); ok {
			// An STS call behind the credential failed: keep its class,
			// but anything that is not transient is the issuer's problem.
			cp := *inner
			if cp.Class == Permanent {
				cp.Class, cp.Reason = Issuer, ReasonCredentials
			}
			cp.OutcomeUnknown = false
			return &cp
		}
		e.Code = "CredentialsUnavailable"
		e.Class, e.Reason = Issuer, ReasonCredentials
		e.Message = "no usable credentials: " + ce.err.Error()
		return e
	}
	classifyNetwork(e, err, parentCtx)
	return e
}

// classifyNetwork handles failures without an answer.
func classifyNetwork(e *Error, err error, parentCtx context.Context) {
	if r, ok := asRefused(err); ok {
		*e = *refusedError(e.Product, e.Action, r)
		return
	}
	e.Message = err.Error()
	var dnsErr *net.DNSError
	var unknownAuth x509.UnknownAuthorityError
	var hostErr x509.HostnameError
	var invalidCert x509.CertificateInvalidError
	var recordErr tls.RecordHeaderError
	switch {
	case parentCtx != nil && parentCtx.Err() != nil:
		// The caller gave up (shutdown, reconcile deadline): nothing to
		// blame on the endpoint.
		e.Code, e.Class, e.Reason = "Canceled", Transient, ReasonTimeout
		e.Message = parentCtx.Err().Error()
		e.OutcomeUnknown = true
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		e.Code, e.Class, e.Reason = "HostNotFound", Issuer, ReasonEndpointUnreachable
		e.Message = "endpoint host " + strconv.Quote(dnsErr.Name) + " does not resolve"
	case errors.As(err, &dnsErr):
		e.Code, e.Class, e.Reason = "DNSError", Transient, ReasonNetwork
	case errors.Is(err, syscall.ECONNREFUSED):
		e.Code, e.Class, e.Reason = "ConnectionRefused", Issuer, ReasonEndpointUnreachable
		e.Message = "endpoint refused the connection: " + err.Error()
	case errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH):
		e.Code, e.Class, e.Reason = "HostUnreachable", Issuer, ReasonEndpointUnreachable
	case errors.As(err, &unknownAuth) || errors.As(err, &hostErr) || errors.As(err, &invalidCert) || errors.As(err, &recordErr):
		e.Code, e.Class, e.Reason = "TLSError", Issuer, ReasonBadEndpoint
	case isTimeout(err):
		e.Code, e.Class, e.Reason = "Timeout", Transient, ReasonTimeout
		e.OutcomeUnknown = true
	default:
		// Connection reset, EOF, a body cut short: the request may have
		// been executed.
		e.Code, e.Class, e.Reason = "NetworkError", Transient, ReasonNetwork
		e.OutcomeUnknown = true
	}
}

func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// shortenMessage drops the string-to-sign the server echoes on a signature
// mismatch: it is long and useless in a condition.
func shortenMessage(m string) string {
	if i := strings.Index(m, sdkerrors.MessageContain); i >= 0 {
		m = strings.TrimSpace(m[:i])
	}
	const max = 512
	if len(m) > max {
		m = strings.ToValidUTF8(m[:max], "") + "..."
	}
	return printable(m)
}

// bodySummary describes a body that is not an API answer without quoting
// it.
func bodySummary(body string) string {
	kind := "text"
	if t := strings.TrimSpace(body); strings.HasPrefix(t, "<") {
		kind = "HTML or XML"
	} else if t == "" {
		return "an empty body"
	}
	return fmt.Sprintf("a %d-byte %s body that is not an Alibaba Cloud API answer", len(body), kind)
}

// printable drops control characters (an answer's text goes into
// conditions and Events).
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func retryAfterHeader(h map[string][]string) time.Duration {
	for k, v := range h {
		if !strings.EqualFold(k, "Retry-After") || len(v) == 0 {
			continue
		}
		if s, err := strconv.Atoi(strings.TrimSpace(v[0])); err == nil && s > 0 {
			return time.Duration(s) * time.Second
		}
		if t, err := http.ParseTime(v[0]); err == nil {
			if d := time.Until(t); d > 0 {
				return d
			}
		}
	}
	return 0
}
