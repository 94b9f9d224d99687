package controllers

import (
	"regexp"
	"strings"
)

// Messages that reach conditions, Events and logs come from remote errors.
// They must never carry a credential, a private key or a request signature:
// scrub removes the known credential values and anything shaped like them.
var scrubPatterns = []struct {
	re   *regexp.Regexp
	with string
}{
	// Query strings of URLs: signed calls carry their credentials there.
	{regexp.MustCompile(`(https?://[^\s"'?]+)\?[^\s"']*`), "$1?[query redacted]"},
	// PEM private keys: whole, then cut off (base64 up to the first other
	// character).
	{regexp.MustCompile(`(?s)-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----`), "[redacted private key]"},
	{regexp.MustCompile(`-----BEGIN [A-Z ]*PRIVATE KEY-----[A-Za-z0-9+/=\s]*`), "[redacted private key]"},
	// Query-string or form parameters that authenticate a call.
	{regexp.MustCompile(`(?i)\b(Signature|AccessKeySecret|SecurityToken|x-acs-security-token)=[^&\s"']*`), "$1=[redacted]"},
	// ACS3 authorization headers.
	{regexp.MustCompile(`(?i)\bSignature=[0-9a-f]{16,}`), "Signature=[redacted]"},
	// JSON fields of the same.
	{regexp.MustCompile(`(?i)"(AccessKeySecret|SecurityToken|PrivateKey|Signature)"\s*:\s*"[^"]*"`), `"$1":"[redacted]"`},
}

// scrub returns msg without secrets, private keys or signatures.
func scrub(msg string, secrets []string) string {
	for _, s := range secrets {
		if len(s) >= 4 {
			msg = strings.ReplaceAll(msg, s, "[redacted]")
		}
	}
	for _, p := range scrubPatterns {
		msg = p.re.ReplaceAllString(msg, p.with)
	}
	return msg
}

// scrubbedError is an error whose message went through scrub; it keeps the
// original for errors.As (classes) but prints only the clean text.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

func scrubError(err error, secrets []string) error {
	if err == nil {
		return nil
	}
	if _, ok := err.(*scrubbedError); ok {
		return err
	}
	return &scrubbedError{msg: scrub(err.Error(), secrets), err: err}
}
