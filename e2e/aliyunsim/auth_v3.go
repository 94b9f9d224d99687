package aliyunsim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

// Signature v3 (ACS3-HMAC-SHA256), what darabonba-openapi v2 sends by default:
//
//	CanonicalRequest = METHOD \n path \n sorted encoded query \n
//	                   "name:value\n" for each signed header \n signed header names joined by ";" \n
//	                   hex(SHA-256(body))
//	StringToSign     = "ACS3-HMAC-SHA256\n" + hex(SHA-256(CanonicalRequest))
//	Authorization    = ACS3-HMAC-SHA256 Credential=<AK>,SignedHeaders=<names>,Signature=<hex HMAC-SHA256(secret, StringToSign)>
//
// The payload hash is the server's own hash of the body, so a body changed in transit (or an
// x-acs-content-sha256 header that lies) fails the signature.

const v3Algorithm = "ACS3-HMAC-SHA256"

type v3Auth struct {
	accessKeyID   string
	signedHeaders []string
	signature     string
}

func errIncompleteSignature(why string) *apiError {
	return badRequest("IncompleteSignature", "The request signature does not conform to Aliyun standards: %s", why)
}

// parseV3Authorization reads `ACS3-HMAC-SHA256 Credential=..,SignedHeaders=..,Signature=..`.
func parseV3Authorization(h string) (*v3Auth, *apiError) {
	alg, rest, ok := strings.Cut(h, " ")
	if !ok || alg != v3Algorithm {
		return nil, errIncompleteSignature("the only supported algorithm is " + v3Algorithm)
	}
	a := &v3Auth{}
	seen := map[string]bool{}
	for _, part := range strings.Split(rest, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || seen[k] {
			return nil, errIncompleteSignature("malformed Authorization header")
		}
		seen[k] = true
		switch k {
		case "Credential":
			a.accessKeyID = v
		case "SignedHeaders":
			if v != "" {
				a.signedHeaders = strings.Split(v, ";")
			}
		case "Signature":
			a.signature = v
		default:
			return nil, errIncompleteSignature("unknown Authorization field " + k)
		}
	}
	if a.accessKeyID == "" || a.signature == "" || len(a.signedHeaders) == 0 {
		return nil, errIncompleteSignature("Credential, SignedHeaders and Signature are required")
	}
	for _, name := range a.signedHeaders {
		if name == "" || name != strings.ToLower(name) {
			return nil, errIncompleteSignature("signed header names must be lower case")
		}
	}
	return a, nil
}

// v3StringToSign builds the canonical request of c from the headers c.v3 names.
func v3StringToSign(c *call, path string) string {
	if path == "" {
		path = "/"
	}
	var b strings.Builder
	b.WriteString(c.method + "\n" + path + "\n" + canonicalQuery(c.query, "") + "\n")
	for _, name := range c.v3.signedHeaders {
		var value string
		if name == "host" {
			value = c.host
		} else {
			value = strings.Join(c.header.Values(name), ",")
		}
		b.WriteString(name + ":" + strings.TrimSpace(value) + "\n")
	}
	bodyHash := sha256.Sum256(c.body)
	b.WriteString("\n" + strings.Join(c.v3.signedHeaders, ";") + "\n" + hex.EncodeToString(bodyHash[:]))
	crHash := sha256.Sum256([]byte(b.String()))
	return v3Algorithm + "\n" + hex.EncodeToString(crHash[:])
}

func v3Sign(secret, stringToSign string) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(stringToSign))
	return hex.EncodeToString(mac.Sum(nil))
}

// verifyV3 checks that the headers that matter are signed and that the signature matches.
func verifyV3(c *call, path, secret string) *apiError {
	signed := map[string]bool{}
	for _, h := range c.v3.signedHeaders {
		signed[h] = true
	}
	for _, h := range []string{"x-acs-date", "x-acs-signature-nonce", "x-acs-content-sha256"} {
		if c.header.Get(h) == "" {
			return errMissing(h)
		}
	}
	if !signed["host"] {
		return errIncompleteSignature("the host header must be signed")
	}
	for name := range c.header {
		if l := strings.ToLower(name); strings.HasPrefix(l, "x-acs-") && !signed[l] {
			return errIncompleteSignature("the header " + l + " must be signed")
		}
	}
	sts := v3StringToSign(c, path)
	if !hmac.Equal([]byte(strings.ToLower(c.v3.signature)), []byte(v3Sign(secret, sts))) {
		return errSignature(sts)
	}
	return nil
}
