package signer

import (
	"errors"
	"fmt"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Error classes decide what the controller does with a failure:
//
//   - PermanentError: the request can never succeed as it is (bad CSR,
//     unsupported key, validation failed at the CA). The request is failed
//     with Reason and cert-manager backs off and retries the Certificate.
//   - IssuerError: the issuer's configuration or credentials are wrong. The
//     request waits; the issuer is marked not Ready with the message.
//   - anything else is transient: retried with backoff, never fails a request.
//
// Reasons are short CamelCase words used in conditions and Events.

// PermanentError fails the request.
type PermanentError struct {
	Reason string
	Err    error
}

func (e *PermanentError) Error() string { return e.Err.Error() }
func (e *PermanentError) Unwrap() error { return e.Err }

// Permanent wraps err as a permanent failure with a condition reason.
func Permanent(reason string, format string, args ...any) error {
	return &PermanentError{Reason: reason, Err: fmt.Errorf(format, args...)}
}

// IssuerError marks the issuer not Ready; requests wait for it to recover.
type IssuerError struct {
	Reason string
	Err    error
}

func (e *IssuerError) Error() string { return e.Err.Error() }
func (e *IssuerError) Unwrap() error { return e.Err }

// Issuer wraps err as an issuer (configuration or credentials) failure.
func Issuer(reason string, err error) error {
	return &IssuerError{Reason: reason, Err: err}
}

// TransientError is retried; RetryAfter, when set, is the earliest retry the
// remote side asked for (e.g. after throttling).
type TransientError struct {
	Reason     string
	RetryAfter time.Duration
	Err        error
}

func (e *TransientError) Error() string { return e.Err.Error() }
func (e *TransientError) Unwrap() error { return e.Err }

// ReasonThrottled is the reason of a TransientError for a call Alibaba
// Cloud's flow control refused, or the issuer's limiter did not send.
const ReasonThrottled = aliyun.ReasonThrottled

// IsThrottled reports whether err is a throttled call: its RetryAfter is
// when the account's limiter has room again, so the retry needs no backoff
// of its own.
func IsThrottled(err error) bool {
	te, ok := AsTransient(err)
	return ok && te.Reason == ReasonThrottled
}

// Transient wraps err as a retryable failure.
func Transient(reason string, retryAfter time.Duration, err error) error {
	return &TransientError{Reason: reason, RetryAfter: retryAfter, Err: err}
}

// AsPermanent reports whether err is (or wraps) a PermanentError.
func AsPermanent(err error) (*PermanentError, bool) {
	var p *PermanentError
	ok := errors.As(err, &p)
	return p, ok
}

// AsIssuer reports whether err is (or wraps) an IssuerError.
func AsIssuer(err error) (*IssuerError, bool) {
	var i *IssuerError
	ok := errors.As(err, &i)
	return i, ok
}

// AsTransient reports whether err is (or wraps) a TransientError.
func AsTransient(err error) (*TransientError, bool) {
	var t *TransientError
	ok := errors.As(err, &t)
	return t, ok
}

// classify turns a remote call's failure into one of the classes above,
// keeping the call's error (action, code, request id) as the message.
// Errors that already carry a class are returned unchanged; anything
// unknown is transient.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if _, ok := AsPermanent(err); ok {
		return err
	}
	if _, ok := AsIssuer(err); ok {
		return err
	}
	if _, ok := AsTransient(err); ok {
		return err
	}
	e, ok := aliyun.AsError(err)
	if !ok {
		return &TransientError{Reason: "Unknown", Err: err}
	}
	switch e.Class {
	case aliyun.Permanent:
		return &PermanentError{Reason: e.Reason, Err: err}
	case aliyun.Issuer:
		return &IssuerError{Reason: e.Reason, Err: err}
	default:
		return &TransientError{Reason: e.Reason, RetryAfter: e.RetryAfter, Err: err}
	}
}

// withContext prefixes the message of a classified error, keeping its class.
func withContext(err error, format string, args ...any) error {
	err = classify(err)
	msg := fmt.Sprintf(format, args...)
	wrapped := fmt.Errorf("%s: %w", msg, unwrapClass(err))
	switch e := err.(type) {
	case *PermanentError:
		return &PermanentError{Reason: e.Reason, Err: wrapped}
	case *IssuerError:
		return &IssuerError{Reason: e.Reason, Err: wrapped}
	case *TransientError:
		return &TransientError{Reason: e.Reason, RetryAfter: e.RetryAfter, Err: wrapped}
	}
	return err
}

func unwrapClass(err error) error {
	switch e := err.(type) {
	case *PermanentError:
		return e.Err
	case *IssuerError:
		return e.Err
	case *TransientError:
		return e.Err
	}
	return err
}
