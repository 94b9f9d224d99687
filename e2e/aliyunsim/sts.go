package aliyunsim

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
)

// STS 2015-04-01: temporary credentials. AssumeRole is signed with a base credential;
// AssumeRoleWithOIDC is unsigned (the OIDC token is the proof), as credentials-go sends it
// for RRSA. Credentials issued here authenticate later calls with their SecurityToken.

var stsActions = map[string]action{
	"AssumeRole":         {run: assumeRole},
	"AssumeRoleWithOIDC": {run: assumeRoleWithOIDC, unsigned: true},
	"GetCallerIdentity":  {run: getCallerIdentity},
}

// stsKeyPrefix starts every temporary AccessKeyId, as Alibaba's do.
const stsKeyPrefix = "STS."

// simAccountID is the account the simulator stands for.
const simAccountID = "1000000000000000"

var (
	roleArnRE     = regexp.MustCompile(`^acs:ram::([0-9]+):role/([A-Za-z0-9._@-]{1,64})$`)
	oidcArnRE     = regexp.MustCompile(`^acs:ram::([0-9]+):oidc-provider/([A-Za-z0-9._-]{1,128})$`)
	sessionNameRE = regexp.MustCompile(`^[A-Za-z0-9._@-]{2,64}$`)
)

// stsReq reads a required STS parameter. STS names the missing parameter in the code,
// Missing{ParameterName} (400, e.g. MissingRoleArn), rather than the gateway's
// MissingParameter (the form is the one STS answers; the full list is not published).
func stsReq(c *call, name string) (string, *apiError) {
	v, e := c.req(name)
	if e != nil {
		return "", badRequest("Missing"+name, "%s is mandatory for this action.", name)
	}
	return v, nil
}

// OIDC token errors of AssumeRoleWithOIDC (the STS error table,
// help.aliyun.com/zh/ram/developer-reference/api-sts-2015-04-01-errorcodes: HTTP 401).
func errOIDCToken(code, format string, args ...any) *apiError {
	return newErr(http.StatusUnauthorized, "AuthenticationFail.OIDCToken."+code, format, args...)
}

// roleRequest reads the parameters both assume actions share.
func (s *Simulator) roleRequest(c *call, sessionRequired bool) (arn, session string, dur time.Duration, e *apiError) {
	arn, e = stsReq(c, "RoleArn")
	if e != nil {
		return
	}
	if !roleArnRE.MatchString(arn) {
		e = badRequest("InvalidParameter.RoleArn", "The role ARN %q is not of the form acs:ram::<uid>:role/<name>.", arn)
		return
	}
	session = c.opt("RoleSessionName", "")
	if session == "" && sessionRequired {
		_, e = stsReq(c, "RoleSessionName")
		return
	}
	if session == "" {
		session = "sim-" + randomLowerAlnum(8)
	}
	if !sessionNameRE.MatchString(session) {
		e = badRequest("InvalidParameter.RoleSessionName", "The role session name %q must be 2 to 64 characters of letters, digits and . @ - _.", session)
		return
	}
	secs, e := c.intParam("DurationSeconds", 3600, 900, 43200)
	if e != nil {
		return
	}
	if len(s.cfg.Roles) > 0 && !slices.Contains(s.cfg.Roles, arn) {
		e = newErr(http.StatusNotFound, "EntityNotExist.Role", "The role not exists: %s.", arn)
		return
	}
	return arn, session, time.Duration(secs) * time.Second, nil
}

// issueCredential creates a temporary credential for a role session.
func (s *Simulator) issueCredential(arn, session string, dur time.Duration) obj {
	tok := make([]byte, 96)
	_, _ = rand.Read(tok)
	cred := &stsCred{
		secret:  randomLowerAlnum(40),
		token:   "CAIS" + base64.StdEncoding.EncodeToString(tok),
		expires: s.now().Add(dur),
		roleArn: arn,
		session: session,
	}
	id := stsKeyPrefix + strings.ToUpper(randomLowerAlnum(24))
	s.st.stsKeys[id] = cred
	s.st.stsTokens[cred.token] = id
	m := roleArnRE.FindStringSubmatch(arn)
	return obj{
		"AssumedRoleUser": obj{
			"AssumedRoleId": "3" + m[1][:min(len(m[1]), 10)] + ":" + session,
			"Arn":           arn + "/" + session,
		},
		"Credentials": obj{
			"AccessKeyId":     id,
			"AccessKeySecret": cred.secret,
			"SecurityToken":   cred.token,
			"Expiration":      cred.expires.UTC().Format("2006-01-02T15:04:05Z"),
		},
	}
}

func assumeRole(s *Simulator, c *call) (obj, *apiError) {
	arn, session, dur, e := s.roleRequest(c, true)
	if e != nil {
		return nil, e
	}
	return s.issueCredential(arn, session, dur), nil
}

func assumeRoleWithOIDC(s *Simulator, c *call) (obj, *apiError) {
	provider, e := stsReq(c, "OIDCProviderArn")
	if e != nil {
		return nil, e
	}
	if !oidcArnRE.MatchString(provider) {
		return nil, badRequest("InvalidParameter.OIDCProviderArn", "The OIDC provider ARN %q is not of the form acs:ram::<uid>:oidc-provider/<name>.", provider)
	}
	token, e := c.req("OIDCToken")
	if e != nil {
		// The STS error table: "The OIDCToken can not empty." (401).
		return nil, errOIDCToken("Invalid", "The OIDCToken can not empty.")
	}
	claims, e := checkJWTShape(token, s.now())
	if e != nil {
		return nil, e
	}
	arn, session, dur, e := s.roleRequest(c, false)
	if e != nil {
		return nil, e
	}
	resp := s.issueCredential(arn, session, dur)
	info := obj{"Subject": "", "Issuer": "", "ClientIds": ""}
	if sub, ok := claims["sub"].(string); ok {
		info["Subject"] = sub
	}
	if iss, ok := claims["iss"].(string); ok {
		info["Issuer"] = iss
	}
	switch aud := claims["aud"].(type) {
	case string:
		info["ClientIds"] = aud
	case []any:
		var ids []string
		for _, a := range aud {
			if id, ok := a.(string); ok {
				ids = append(ids, id)
			}
		}
		info["ClientIds"] = strings.Join(ids, ",")
	}
	resp["OIDCTokenInfo"] = info
	return resp, nil
}

// checkJWTShape accepts a compact JWS: three base64url parts, header and payload JSON objects,
// a non-empty signature, and no `exp` in the past. The simulator has no OIDC provider keys, so
// it cannot verify the signature itself.
func checkJWTShape(token string, now time.Time) (map[string]any, *apiError) {
	bad := func(why string) *apiError {
		return errOIDCToken("Invalid", "The OIDC token is not a valid JWT: %s.", why)
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return nil, bad("it must have three dot-separated parts")
	}
	var objs [2]map[string]any
	for i, p := range parts {
		raw, err := base64.RawURLEncoding.DecodeString(p)
		if err != nil || len(raw) == 0 {
			return nil, bad("a part is not base64url")
		}
		if i < 2 {
			if err := json.Unmarshal(raw, &objs[i]); err != nil || objs[i] == nil {
				return nil, bad("the header or payload is not a JSON object")
			}
		}
	}
	if exp, ok := objs[1]["exp"].(float64); ok && now.After(time.Unix(int64(exp), 0)) {
		return nil, errOIDCToken("Expired", "The OIDC token expired at %s.", time.Unix(int64(exp), 0).UTC().Format(time.RFC3339))
	}
	return objs[1], nil
}

func getCallerIdentity(s *Simulator, c *call) (obj, *apiError) {
	if cred, ok := s.st.stsKeys[c.accessKeyID]; ok {
		m := roleArnRE.FindStringSubmatch(cred.roleArn)
		return obj{
			"AccountId":    simAccountID,
			"IdentityType": "AssumedRoleUser",
			"Arn":          "acs:ram::" + m[1] + ":assumed-role/" + m[2] + "/" + cred.session,
			"PrincipalId":  c.accessKeyID,
			"RoleId":       m[2],
		}, nil
	}
	return obj{
		"AccountId":    simAccountID,
		"IdentityType": "Account",
		"Arn":          "acs:ram::" + simAccountID + ":root",
		"PrincipalId":  simAccountID,
		"UserId":       simAccountID,
	}, nil
}
