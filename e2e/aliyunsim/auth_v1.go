package aliyunsim

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"sort"
	"strings"
)

// Signature v1 (HMAC-SHA1), the scheme of the classic SDK, credentials-go's STS providers and
// the published RPC signing docs:
//
//	StringToSign = METHOD & enc("/") & enc(sorted "k=v" pairs joined by "&")
//	Signature    = Base64(HMAC-SHA1(secret + "&", StringToSign))
//
// with every parameter but Signature (empty values included) and RFC 3986 encoding.

// percentEncode is RFC 3986 encoding with upper-case hex: only A-Z a-z 0-9 - _ . ~ stay.
func percentEncode(s string) string {
	const hexdigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s) + len(s)/2)
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hexdigits[c>>4])
		b.WriteByte(hexdigits[c&15])
	}
	return b.String()
}

// canonicalQuery joins params as sorted, encoded "k=v" pairs, leaving out skip.
func canonicalQuery(params map[string]string, skip string) string {
	keys := make([]string, 0, len(params))
	for k := range params {
		if k != skip {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(percentEncode(k))
		b.WriteByte('=')
		b.WriteString(percentEncode(params[k]))
	}
	return b.String()
}

// v1StringToSign is the string the server signs for method and params.
func v1StringToSign(method string, params map[string]string) string {
	return method + "&" + percentEncode("/") + "&" + percentEncode(canonicalQuery(params, "Signature"))
}

// v1Sign computes the v1 signature of stringToSign with secret.
func v1Sign(secret, stringToSign string) string {
	mac := hmac.New(sha1.New, []byte(secret+"&"))
	mac.Write([]byte(stringToSign))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// verifyV1 checks a v1 signature; on failure it answers SignatureDoesNotMatch carrying the
// server's string to sign, as Alibaba does.
func verifyV1(c *call, secret string) *apiError {
	for _, name := range []string{"Signature", "SignatureMethod", "SignatureVersion"} {
		if c.params[name] == "" {
			return errMissing(name)
		}
	}
	if m := c.params["SignatureMethod"]; m != "HMAC-SHA1" {
		return badRequest("InvalidSignatureMethod", "Specified signature method %q is not supported; use HMAC-SHA1.", m)
	}
	if v := c.params["SignatureVersion"]; v != "1.0" {
		return badRequest("InvalidSignatureVersion", "Specified signature version %q is not supported; use 1.0.", v)
	}
	if t := c.params["SignatureType"]; t != "" {
		// The SDK sends an empty SignatureType; BEARERTOKEN is for products other than these.
		return badRequest("InvalidSignatureType", "Specified signature type %q is not supported.", t)
	}
	sig := c.params["Signature"]
	sts := v1StringToSign(c.method, c.params)
	if !hmac.Equal([]byte(sig), []byte(v1Sign(secret, sts))) {
		return errSignature(sts)
	}
	return nil
}
