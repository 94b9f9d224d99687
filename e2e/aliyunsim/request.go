package aliyunsim

import (
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// maxBody bounds a request body: the largest legitimate one is a certificate upload.
const maxBody = 1 << 20

// Signature schemes.
const (
	sigNone = iota // unsigned (AssumeRoleWithOIDC)
	sigV1          // HMAC-SHA1 in the parameters
	sigV3          // ACS3-HMAC-SHA256 in the Authorization header
)

// call is one parsed RPC request: what the gateway knows before authentication.
type call struct {
	method  string
	host    string
	version string
	action  string
	format  string            // "JSON" or "XML"
	params  map[string]string // query and form parameters merged (form wins, as in the SDKs)
	query   map[string]string // query parameters only (signature v3 signs them apart)
	body    []byte
	scheme  int
	v3      *v3Auth
	header  http.Header

	accessKeyID   string
	securityToken string
	timestamp     string
	nonce         string
}

// parseCall turns an HTTP request into a call. It does no authentication and touches no state,
// so it can be fuzzed on its own. body is the request body, already read.
func parseCall(r *http.Request, body []byte) (*call, *apiError) {
	c := &call{method: r.Method, host: r.Host, header: r.Header, body: body, format: "JSON"}
	if r.Method != http.MethodGet && r.Method != http.MethodPost {
		return c, newErr(http.StatusMethodNotAllowed, "UnsupportedHTTPMethod",
			"The HTTP method %q is not supported; use GET or POST.", r.Method)
	}
	q, err := singleValues(r.URL.RawQuery)
	if err != nil {
		return c, err
	}
	c.query = q
	c.params = make(map[string]string, len(q))
	for k, v := range q {
		c.params[k] = v
	}
	if len(body) > 0 && isForm(r.Header.Get("Content-Type")) {
		f, err := singleValues(string(body))
		if err != nil {
			return c, err
		}
		for k, v := range f {
			if old, dup := c.params[k]; dup && old != v {
				return c, badRequest("InvalidParameter.Duplicate", "The parameter %q has different values in the query and the body.", k)
			}
			c.params[k] = v
		}
	}
	if strings.EqualFold(c.params["Format"], "XML") {
		c.format = "XML"
	}

	if auth := r.Header.Get("Authorization"); strings.HasPrefix(auth, "ACS3-") {
		c.scheme = sigV3
		a, err := parseV3Authorization(auth)
		if err != nil {
			return c, err
		}
		c.v3 = a
		c.action = r.Header.Get("x-acs-action")
		c.version = r.Header.Get("x-acs-version")
		if c.action == "" {
			return c, errMissing("x-acs-action")
		}
		if c.version == "" {
			return c, errMissing("x-acs-version")
		}
		c.accessKeyID = a.accessKeyID
		c.securityToken = r.Header.Get("x-acs-security-token")
		c.timestamp = r.Header.Get("x-acs-date")
		c.nonce = r.Header.Get("x-acs-signature-nonce")
		return c, nil
	}

	c.action = c.params["Action"]
	c.version = c.params["Version"]
	if c.action == "" {
		return c, errMissing("Action")
	}
	if c.version == "" {
		return c, errMissing("Version")
	}
	c.scheme = sigV1
	c.accessKeyID = c.params["AccessKeyId"]
	c.securityToken = c.params["SecurityToken"]
	c.timestamp = c.params["Timestamp"]
	if c.timestamp == "" {
		// Older documents spell it TimeStamp; the gateway accepts both.
		c.timestamp = c.params["TimeStamp"]
	}
	c.nonce = c.params["SignatureNonce"]
	return c, nil
}

func isForm(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && mt == "application/x-www-form-urlencoded"
}

// singleValues parses a query string and refuses a parameter given twice with different
// values: only one of them could have been signed.
func singleValues(raw string) (map[string]string, *apiError) {
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return nil, badRequest("InvalidParameter.Encoding", "The request parameters are not well-formed URL encoding: %v", err)
	}
	out := make(map[string]string, len(vals))
	for k, vs := range vals {
		for _, v := range vs[1:] {
			if v != vs[0] {
				return nil, badRequest("InvalidParameter.Duplicate", "The parameter %q is given more than once.", k)
			}
		}
		out[k] = vs[0]
	}
	return out, nil
}

// parseTimestamp reads the ISO 8601 UTC form the SDKs send; fractional seconds and offsets are
// accepted too.
func parseTimestamp(s string) (time.Time, bool) {
	for _, layout := range []string{"2006-01-02T15:04:05Z", time.RFC3339Nano} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// Parameter helpers used by the action handlers.

// req returns a required, non-empty parameter.
func (c *call) req(name string) (string, *apiError) {
	v := strings.TrimSpace(c.params[name])
	if v == "" {
		return "", errMissing(name)
	}
	return v, nil
}

// opt returns a parameter or def when absent or empty.
func (c *call) opt(name, def string) string {
	if v := strings.TrimSpace(c.params[name]); v != "" {
		return v
	}
	return def
}

// intParam reads an optional integer in [min, max].
func (c *call) intParam(name string, def, min, max int64) (int64, *apiError) {
	v := strings.TrimSpace(c.params[name])
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errInvalidParam(name, "%q is not an integer", v)
	}
	if n < min || n > max {
		return 0, errInvalidParam(name, "%d is outside [%d, %d]", n, min, max)
	}
	return n, nil
}

// idParam reads a required positive integer identifier.
func (c *call) idParam(name string) (int64, *apiError) {
	v, e := c.req(name)
	if e != nil {
		return 0, e
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n <= 0 {
		return 0, errInvalidParam(name, "%q is not a positive integer", v)
	}
	return n, nil
}

// boolParam reads an optional boolean ("true"/"false").
func (c *call) boolParam(name string) (bool, *apiError) {
	v := strings.TrimSpace(c.params[name])
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, errInvalidParam(name, "%q is not a boolean", v)
	}
	return b, nil
}
