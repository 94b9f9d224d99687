package aliyunsim

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/credentials-go/credentials/providers"
)

const testRole = "acs:ram::1234567890123456:role/cas-issuer"
const testOIDCProvider = "acs:ram::1234567890123456:oidc-provider/ack-rrsa-c123"

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(map[string]string{"alg": "RS256", "kid": "k1"}) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString([]byte("signature"))
}

// stsClient turns an STS answer into a client using those credentials.
func stsClient(t *testing.T, e *env, r result) *client {
	t.Helper()
	expectOK(t, r)
	creds := r.Body["Credentials"].(map[string]any)
	c := *e.c
	c.id, c.secret, c.token = creds["AccessKeyId"].(string), creds["AccessKeySecret"].(string), creds["SecurityToken"].(string)
	if !strings.HasPrefix(c.id, "STS.") || c.secret == "" || c.token == "" {
		t.Fatalf("credentials: %v", creds)
	}
	if _, err := time.Parse("2006-01-02T15:04:05Z", creds["Expiration"].(string)); err != nil {
		t.Fatalf("Expiration: %v", err)
	}
	return &c
}

func TestAssumeRole(t *testing.T) {
	e := newEnv(t, nil)
	tmp := stsClient(t, e, e.c.call(VersionSTS, "AssumeRole", "RoleArn", testRole, "RoleSessionName", "test", "DurationSeconds", "900"))

	expectOK(t, tmp.call(VersionCAS2020, "DescribePackageState"))
	expectOK(t, tmp.do(tmp.v3Request(VersionCAS2020, "DescribePackageState", nil, nil)))
	r := tmp.call(VersionSTS, "GetCallerIdentity")
	if r.str("IdentityType") != "AssumedRoleUser" || !strings.HasSuffix(r.str("Arn"), ":assumed-role/cas-issuer/test") {
		t.Fatalf("caller: %s", r.Raw)
	}

	forged := *tmp
	forged.token = "CAIS" + base64.StdEncoding.EncodeToString([]byte("forged"))
	expectErr(t, forged.call(VersionCAS2020, "DescribePackageState"), 400, "InvalidSecurityToken.Malformed")
	none := *tmp
	none.token = ""
	expectErr(t, none.call(VersionCAS2020, "DescribePackageState"), 400, "InvalidSecurityToken.Malformed")
	other := stsClient(t, e, e.c.call(VersionSTS, "AssumeRole", "RoleArn", testRole, "RoleSessionName", "other"))
	swapped := *tmp
	swapped.token = other.token
	expectErr(t, swapped.call(VersionCAS2020, "DescribePackageState"), 400, "InvalidSecurityToken.MismatchWithAccessKey")
	withPermanent := *e.c
	withPermanent.token = tmp.token
	expectErr(t, withPermanent.call(VersionCAS2020, "DescribePackageState"), 400, "InvalidSecurityToken.MismatchWithAccessKey")

	e.clock.Advance(15 * time.Minute)
	expectErr(t, tmp.call(VersionCAS2020, "DescribePackageState"), 400, "InvalidSecurityToken.Expired")
	expectOK(t, other.call(VersionCAS2020, "DescribePackageState")) // 3600 s by default

	for name, c := range map[string]struct {
		kv     []string
		status int
		code   string
	}{
		"missing RoleArn":     {[]string{"RoleSessionName", "s"}, 400, "MissingRoleArn"},
		"bad RoleArn":         {[]string{"RoleArn", "role/x", "RoleSessionName", "sess"}, 400, "InvalidParameter.RoleArn"},
		"missing session":     {[]string{"RoleArn", testRole}, 400, "MissingRoleSessionName"},
		"bad session":         {[]string{"RoleArn", testRole, "RoleSessionName", "a b"}, 400, "InvalidParameter.RoleSessionName"},
		"short duration":      {[]string{"RoleArn", testRole, "RoleSessionName", "sess", "DurationSeconds", "60"}, 400, "InvalidParameter"},
		"duration not number": {[]string{"RoleArn", testRole, "RoleSessionName", "sess", "DurationSeconds", "1h"}, 400, "InvalidParameter"},
	} {
		t.Run(name, func(t *testing.T) { expectErr(t, e.c.call(VersionSTS, "AssumeRole", c.kv...), c.status, c.code) })
	}
}

func TestAssumeRoleRestricted(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.Roles = []string{testRole} })
	expectOK(t, e.c.call(VersionSTS, "AssumeRole", "RoleArn", testRole, "RoleSessionName", "ok"))
	expectErr(t, e.c.call(VersionSTS, "AssumeRole", "RoleArn", "acs:ram::1234567890123456:role/other", "RoleSessionName", "ok"), 404, "EntityNotExist.Role")
	r := oidc(t, e, map[string]string{"RoleArn": "acs:ram::1234567890123456:role/other"})
	expectErr(t, r, 404, "EntityNotExist.Role")
}

// oidc sends AssumeRoleWithOIDC unsigned, as credentials-go does; fields override the form.
func oidc(t *testing.T, e *env, fields map[string]string) result {
	t.Helper()
	q := url.Values{"Version": {VersionSTS}, "Action": {"AssumeRoleWithOIDC"}, "Format": {"JSON"},
		"Timestamp": {e.clock.Now().Format("2006-01-02T15:04:05Z")}}
	f := url.Values{"RoleArn": {testRole}, "OIDCProviderArn": {testOIDCProvider}, "RoleSessionName": {"rrsa"}, "DurationSeconds": {"3600"},
		"OIDCToken": {jwt(t, map[string]any{"sub": "system:serviceaccount:cas:issuer", "iss": "https://oidc.example", "aud": "sts.aliyuncs.com", "exp": e.clock.Now().Add(time.Hour).Unix()})}}
	for k, v := range fields {
		if v == "-" {
			f.Del(k)
		} else {
			f.Set(k, v)
		}
	}
	req := mustRequest(t, "POST", e.url+"/?"+q.Encode(), f.Encode())
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return e.c.do(req)
}

func TestAssumeRoleWithOIDC(t *testing.T) {
	e := newEnv(t, nil)
	r := oidc(t, e, nil)
	tmp := stsClient(t, e, r)
	if info := r.Body["OIDCTokenInfo"].(map[string]any); info["Subject"] != "system:serviceaccount:cas:issuer" || info["ClientIds"] != "sts.aliyuncs.com" {
		t.Fatalf("token info: %s", r.Raw)
	}
	expectOK(t, tmp.call(VersionCAS2020, "DescribePackageState"))
	if st := e.sim.State(); st.Calls["AssumeRoleWithOIDC"] != 1 {
		t.Fatalf("calls: %v", st.Calls)
	}

	past := jwt(t, map[string]any{"sub": "x", "exp": e.clock.Now().Add(-time.Minute).Unix()})
	// The STS error table: an empty, invalid or expired token is AuthenticationFail.OIDCToken.*
	// (401); a missing parameter Missing{ParameterName} (400).
	for name, c := range map[string]struct {
		fields map[string]string
		status int
		code   string
	}{
		"missing token":    {map[string]string{"OIDCToken": "-"}, 401, "AuthenticationFail.OIDCToken.Invalid"},
		"two parts":        {map[string]string{"OIDCToken": "abc.def"}, 401, "AuthenticationFail.OIDCToken.Invalid"},
		"not base64":       {map[string]string{"OIDCToken": "a*b.c.d"}, 401, "AuthenticationFail.OIDCToken.Invalid"},
		"not JSON":         {map[string]string{"OIDCToken": "YWJj.YWJj.YWJj"}, 401, "AuthenticationFail.OIDCToken.Invalid"},
		"empty signature":  {map[string]string{"OIDCToken": strings.TrimSuffix(jwt(t, map[string]any{"sub": "x"}), "c2lnbmF0dXJl")}, 401, "AuthenticationFail.OIDCToken.Invalid"},
		"expired":          {map[string]string{"OIDCToken": past}, 401, "AuthenticationFail.OIDCToken.Expired"},
		"bad provider":     {map[string]string{"OIDCProviderArn": "acs:ram::1:role/x"}, 400, "InvalidParameter.OIDCProviderArn"},
		"missing provider": {map[string]string{"OIDCProviderArn": "-"}, 400, "MissingOIDCProviderArn"},
		"bad role":         {map[string]string{"RoleArn": "acs:ram::x:role/y"}, 400, "InvalidParameter.RoleArn"},
	} {
		t.Run(name, func(t *testing.T) { expectErr(t, oidc(t, e, c.fields), c.status, c.code) })
	}
}

// TestCredentialsGo drives the simulator with credentials-go's own STS providers (the RRSA
// path of the issuer): they speak HTTPS only, so the simulator serves TLS from its CA.
func TestCredentialsGo(t *testing.T) {
	sim, err := New(Config{AccessKeys: map[string]string{testID: testSecret}, TLS: true})
	if err != nil {
		t.Fatal(err)
	}
	u, err := sim.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	if !strings.HasPrefix(u, "https://") {
		t.Fatalf("URL %s", u)
	}
	host := strings.TrimPrefix(u, "https://")

	// credentials-go clones http.DefaultTransport: trust the simulator's root there.
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(sim.RootPEM())
	dt := http.DefaultTransport.(*http.Transport)
	saved := dt.TLSClientConfig
	dt.TLSClientConfig = &tls.Config{RootCAs: roots}
	defer func() { dt.TLSClientConfig = saved }()

	tokenFile := filepath.Join(t.TempDir(), "token")
	tok := jwt(t, map[string]any{"sub": "system:serviceaccount:cas:issuer", "exp": time.Now().Add(time.Hour).Unix()})
	if err := os.WriteFile(tokenFile, []byte(tok), 0o600); err != nil {
		t.Fatal(err)
	}
	op, err := providers.NewOIDCCredentialsProviderBuilder().WithRoleArn(testRole).WithOIDCProviderARN(testOIDCProvider).
		WithOIDCTokenFilePath(tokenFile).WithSTSEndpoint(host).WithRoleSessionName("rrsa").Build()
	if err != nil {
		t.Fatal(err)
	}
	cc, err := op.GetCredentials()
	if err != nil {
		t.Fatalf("OIDC: %v", err)
	}

	// AssumeRole signed by credentials-go on top of the OIDC credentials (role chaining).
	base, err := providers.NewStaticSTSCredentialsProviderBuilder().WithAccessKeyId(cc.AccessKeyId).
		WithAccessKeySecret(cc.AccessKeySecret).WithSecurityToken(cc.SecurityToken).Build()
	if err != nil {
		t.Fatal(err)
	}
	rp, err := providers.NewRAMRoleARNCredentialsProviderBuilder().WithCredentialsProvider(base).WithRoleArn(testRole).
		WithStsEndpoint(host).WithRoleSessionName("chained").Build()
	if err != nil {
		t.Fatal(err)
	}
	chained, err := rp.GetCredentials()
	if err != nil {
		t.Fatalf("AssumeRole: %v", err)
	}
	c := &client{t: t, base: u, id: chained.AccessKeyId, secret: chained.AccessKeySecret, token: chained.SecurityToken, now: time.Now,
		hc: &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}}}
	expectOK(t, c.call(VersionCAS2020, "DescribePackageState"))
	if calls := sim.State().Calls; calls["AssumeRoleWithOIDC"] != 1 || calls["AssumeRole"] != 1 {
		t.Fatalf("calls: %v", calls)
	}
}
