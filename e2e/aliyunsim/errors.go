package aliyunsim

import (
	"fmt"
	"net/http"
	"net/url"
)

// apiError is an error answer in Alibaba's shape. Handlers return it; the server adds
// RequestId, HostId and Recommend when writing it.
type apiError struct {
	Status  int
	Code    string
	Message string
}

func newErr(status int, code, format string, args ...any) *apiError {
	return &apiError{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// badRequest is the common case: a 400 with a specific code.
func badRequest(code, format string, args ...any) *apiError {
	return newErr(http.StatusBadRequest, code, format, args...)
}

// Common gateway errors, with the messages Alibaba's gateway answers.

func errMissing(name string) *apiError {
	return badRequest("MissingParameter", "The input parameter %q that is mandatory for processing this request is not supplied.", name)
}

func errInvalidParam(name, format string, args ...any) *apiError {
	return badRequest("InvalidParameter", "The parameter %q is invalid: %s", name, fmt.Sprintf(format, args...))
}

var (
	errActionNotFound = newErr(http.StatusNotFound, "InvalidAction.NotFound",
		"Specified api is not found, please check your url and method.")
	errInvalidVersion = badRequest("InvalidVersion", "Specified parameter Version is not valid.")
	errKeyNotFound    = newErr(http.StatusNotFound, "InvalidAccessKeyId.NotFound", "Specified access key is not found.")
	errTimestampFmt   = badRequest("InvalidTimeStamp.Format", "Specified time stamp or date value is not well formatted.")
	errTimestampOld   = badRequest("InvalidTimeStamp.Expired", "Specified time stamp or date value is expired.")
	errNonceUsed      = badRequest("SignatureNonceUsed", "Specified signature nonce was used already.")
	errTokenExpired   = badRequest("InvalidSecurityToken.Expired", "Specified SecurityToken is expired.")
	errTokenMalformed = badRequest("InvalidSecurityToken.Malformed", "Specified SecurityToken is malformed.")
	errTokenMismatch  = badRequest("InvalidSecurityToken.MismatchWithAccessKey", "Specified SecurityToken mismatch with the AccessKey.")
	// Clients key on the code; the 400 status is (unverified).
	errThrottled = badRequest("Throttling.User", "Request was denied due to user flow control.")
	errInternal  = newErr(http.StatusInternalServerError, "InternalError",
		"The request processing has failed due to some unknown error, exception or failure.")
	errUnavailable = newErr(http.StatusServiceUnavailable, "ServiceUnavailable",
		"The request has failed due to a temporary failure of the server.")
)

// CAS errors, as the CAS 2020-04-07 error table publishes them (the "错误码" section of the
// DeleteCertificateRequest and CreateCertificateForPackageRequest API references): code and
// HTTP status.

// errNotRemainCount: the resource package of the product has no certificate left.
func errNotRemainCount(code string, used, total int) *apiError {
	return newErr(http.StatusNotFound, "NotRemainCount", "The resource package of %s has no certificate left (%d of %d used).", code, used, total)
}

// errNotFoundPackage: the account has no resource package for the product.
func errNotFoundPackage(code string) *apiError {
	return newErr(http.StatusNotFound, "NotFoundPackage", "No resource package of the product %q was found.", code)
}

// errNotFoundOrder: no order with this id in the account.
func errNotFoundOrder(id int64) *apiError {
	return newErr(http.StatusNotFound, "NotFoundOrder", "The order %d does not exist.", id)
}

// errOrderState: the order is not in a state the action accepts.
func errOrderState(format string, args ...any) *apiError {
	return newErr(http.StatusForbidden, "OrderStateError", format, args...)
}

// errDeleteFail: DeleteCertificateRequest on an order that is neither failed nor cancelled.
func errDeleteFail(format string, args ...any) *apiError {
	return newErr(http.StatusForbidden, "DeleteFail", format, args...)
}

// errLegacyRefused is the answer of an endpoint that no longer serves CAS 2018-07-13. The
// codes are the gateway's; their statuses for this case are (unverified).
func errLegacyRefused(code string) *apiError {
	if code == LegacyInvalidAPI {
		return newErr(http.StatusNotFound, LegacyInvalidAPI, "The specified API of version %s is not found.", VersionCAS2018)
	}
	return errInvalidVersion
}

func errSignature(stringToSign string) *apiError {
	// The SDK compares the text after "server string to sign is:" with its own to tell a wrong
	// secret from a signing bug, so it must be exactly the server's string to sign.
	return badRequest("SignatureDoesNotMatch",
		"Specified signature is not matched with our calculation. server string to sign is:%s", stringToSign)
}

// recommend is the troubleshooting link Alibaba puts in every error.
func recommend(code, reqID string) string {
	return "https://api.aliyun.com/troubleshoot?q=" + url.QueryEscape(code) + "&requestId=" + reqID
}
