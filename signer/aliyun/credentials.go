package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	sdkcredentials "github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/credentials-go/credentials/providers"
)

// Credentials says how to authenticate. Exactly one of the static pair or
// Ambient is used; RoleARN assumes a role on top of either.
//
// Credentials never print their secrets: String, GoString, LogValue and
// MarshalJSON all redact them.
type Credentials struct {
	AccessKeyID     string
	AccessKeySecret string
	SecurityToken   string
	// Ambient uses credentials-go's default chain: environment variables,
	// RRSA (ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN,
	// ALIBABA_CLOUD_OIDC_TOKEN_FILE), CLI profile, ECS RAM role, credentials URI.
	Ambient bool
	// RoleARN, when set, is assumed with STS AssumeRole on top of the base
	// credential.
	RoleARN string
	// STSEndpoint overrides the STS URL (default https://sts.aliyuncs.com).
	STSEndpoint string
}

func redactID(id string) string {
	if id == "" {
		return ""
	}
	if len(id) <= 8 {
		return "****"
	}
	return id[:4] + "****" + id[len(id)-4:]
}

func redactSecret(s string) string {
	if s == "" {
		return ""
	}
	return "<redacted>"
}

// String describes the credentials without their secrets.
func (c Credentials) String() string {
	var parts []string
	if c.AccessKeyID != "" || c.AccessKeySecret != "" {
		parts = append(parts, "AccessKeyID:"+redactID(c.AccessKeyID), "AccessKeySecret:"+redactSecret(c.AccessKeySecret))
	}
	if c.SecurityToken != "" {
		parts = append(parts, "SecurityToken:"+redactSecret(c.SecurityToken))
	}
	if c.Ambient {
		parts = append(parts, "Ambient:true")
	}
	if c.RoleARN != "" {
		parts = append(parts, "RoleARN:"+c.RoleARN)
	}
	if c.STSEndpoint != "" {
		parts = append(parts, "STSEndpoint:"+c.STSEndpoint)
	}
	return "Credentials{" + strings.Join(parts, " ") + "}"
}

// GoString is String: %#v must not print secrets either.
func (c Credentials) GoString() string { return c.String() }

// LogValue keeps secrets out of structured logs.
func (c Credentials) LogValue() slog.Value { return slog.StringValue(c.String()) }

// MarshalJSON keeps secrets out of JSON-encoding loggers.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Validate checks that exactly one base credential is configured.
func (c Credentials) Validate() error {
	static := c.AccessKeyID != "" || c.AccessKeySecret != ""
	switch {
	case static && c.Ambient:
		return errors.New("credentials: set either an AccessKey pair or ambient, not both")
	case !static && !c.Ambient:
		return errors.New("credentials: no AccessKey pair and ambient not enabled")
	case static && (c.AccessKeyID == "" || c.AccessKeySecret == ""):
		return errors.New("credentials: the AccessKey pair needs both an id and a secret")
	case !static && c.SecurityToken != "":
		return errors.New("credentials: a security token needs its AccessKey pair")
	}
	if c.STSEndpoint != "" {
		if _, err := parseEndpoint(c.STSEndpoint); err != nil {
			return fmt.Errorf("credentials: STS endpoint: %w", err)
		}
	}
	return nil
}

// credentialsError marks a failure to obtain credentials, so that it is not
// mistaken for a network failure of the call itself.
type credentialsError struct{ err error }

func (e *credentialsError) Error() string { return "credentials: " + e.err.Error() }
func (e *credentialsError) Unwrap() error { return e.err }

// sdkProvider adapts a credentials-go provider to the classic SDK's
// credentials.CredentialsProvider. It serialises GetCredentials: the
// credentials-go providers cache and refresh without locking.
type sdkProvider struct {
	mu sync.Mutex
	p  providers.CredentialsProvider
}

// NewSDKProvider lets the classic SDK sign with a credentials-go provider.
func NewSDKProvider(p providers.CredentialsProvider) sdkcredentials.CredentialsProvider {
	return &sdkProvider{p: p}
}

func (a *sdkProvider) GetCredentials() (*sdkcredentials.Credentials, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	cc, err := a.p.GetCredentials()
	if err != nil {
		return nil, &credentialsError{err: err}
	}
	if cc == nil || cc.AccessKeyId == "" || cc.AccessKeySecret == "" {
		return nil, &credentialsError{err: errors.New("the credential provider returned an empty AccessKey")}
	}
	return &sdkcredentials.Credentials{
		AccessKeyId:     cc.AccessKeyId,
		AccessKeySecret: cc.AccessKeySecret,
		SecurityToken:   cc.SecurityToken,
		ProviderName:    cc.ProviderName,
	}, nil
}

func (a *sdkProvider) GetProviderName() string { return a.p.GetProviderName() }

// rrsaEnv reports the RRSA settings from the environment, if complete.
func rrsaEnv() (roleARN, providerARN, tokenFile string, ok bool) {
	roleARN = os.Getenv("ALIBABA_CLOUD_ROLE_ARN")
	providerARN = os.Getenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN")
	tokenFile = os.Getenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE")
	return roleARN, providerARN, tokenFile, roleARN != "" && providerARN != "" && tokenFile != ""
}

// baseProvider builds the credential before any AssumeRole.
func baseProvider(c Credentials, sts *endpoint, timeout time.Duration, transport http.RoundTripper) (providers.CredentialsProvider, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	if !c.Ambient {
		if c.SecurityToken != "" {
			return providers.NewStaticSTSCredentialsProviderBuilder().
				WithAccessKeyId(c.AccessKeyID).
				WithAccessKeySecret(c.AccessKeySecret).
				WithSecurityToken(c.SecurityToken).
				Build()
		}
		return providers.NewStaticAKCredentialsProviderBuilder().
			WithAccessKeyId(c.AccessKeyID).
			WithAccessKeySecret(c.AccessKeySecret).
			Build()
	}
	// credentials-go talks to STS over HTTPS only; an explicit STS endpoint
	// (which may be plain HTTP) gets the RRSA exchange done here instead.
	if c.STSEndpoint != "" {
		if roleARN, providerARN, tokenFile, ok := rrsaEnv(); ok {
			return &oidcProvider{
				sts: *sts, roleARN: roleARN, providerARN: providerARN, tokenFile: tokenFile,
				client: &http.Client{Transport: transport, Timeout: timeout},
			}, nil
		}
	}
	return providers.NewDefaultCredentialsProvider(), nil
}

// stsCredentials is a session credential with its expiry.
type stsCredentials struct {
	AccessKeyID     string `json:"AccessKeyId"`
	AccessKeySecret string `json:"AccessKeySecret"`
	SecurityToken   string `json:"SecurityToken"`
	Expiration      string `json:"Expiration"`
}

type stsResponse struct {
	RequestID   string          `json:"RequestId"`
	Credentials *stsCredentials `json:"Credentials"`
}

// sessionCache holds a session credential and says when to refresh it.
type sessionCache struct {
	mu      sync.Mutex
	cur     *providers.Credentials
	expires time.Time
}

// refreshBefore is how long before expiry a session is renewed, as
// credentials-go does.
const refreshBefore = 180 * time.Second

func (s *sessionCache) get(name string, fetch func() (*stsCredentials, error)) (*providers.Credentials, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil && time.Until(s.expires) > refreshBefore {
		return s.cur, nil
	}
	sc, err := fetch()
	if err != nil {
		return nil, err
	}
	if sc == nil || sc.AccessKeyID == "" || sc.AccessKeySecret == "" {
		return nil, errors.New("STS answered without credentials")
	}
	exp, err := time.Parse(time.RFC3339, sc.Expiration)
	if err != nil {
		// Unknown expiry: keep it for a short while only.
		exp = time.Now().Add(refreshBefore + 5*time.Minute)
	}
	s.cur = &providers.Credentials{AccessKeyId: sc.AccessKeyID, AccessKeySecret: sc.AccessKeySecret, SecurityToken: sc.SecurityToken, ProviderName: name}
	s.expires = exp
	return s.cur, nil
}

// assumeRoleProvider assumes RoleARN with STS AssumeRole, signed (by the
// SDK) with the base credential.
type assumeRoleProvider struct {
	sts     *Client // STS-only client signing with the base credential
	roleARN string
	session string
	timeout time.Duration
	cache   sessionCache
}

func (p *assumeRoleProvider) GetProviderName() string { return "assume_role" }

func (p *assumeRoleProvider) GetCredentials() (*providers.Credentials, error) {
	return p.cache.get(p.GetProviderName(), func() (*stsCredentials, error) {
		ctx, cancel := context.WithTimeout(context.Background(), p.timeout)
		defer cancel()
		var out stsResponse
		err := p.sts.Call(ctx, STS, "AssumeRole", map[string]string{
			"RoleArn":         p.roleARN,
			"RoleSessionName": p.session,
			"DurationSeconds": "3600",
		}, &out)
		if err != nil {
			return nil, err
		}
		return out.Credentials, nil
	})
}

// oidcProvider exchanges the RRSA OIDC token for a session credential with
// the unsigned STS AssumeRoleWithOIDC, against an explicit STS endpoint.
type oidcProvider struct {
	sts                             endpoint
	roleARN, providerARN, tokenFile string
	client                          *http.Client
	cache                           sessionCache
}

func (p *oidcProvider) GetProviderName() string { return "oidc_role_arn" }

func (p *oidcProvider) GetCredentials() (*providers.Credentials, error) {
	return p.cache.get(p.GetProviderName(), func() (*stsCredentials, error) {
		token, err := os.ReadFile(p.tokenFile)
		if err != nil {
			return nil, fmt.Errorf("reading the OIDC token: %w", err)
		}
		q := url.Values{
			"Action":    {"AssumeRoleWithOIDC"},
			"Version":   {STS.Version},
			"Format":    {"JSON"},
			"Timestamp": {time.Now().UTC().Format("2006-01-02T15:04:05Z")},
		}
		form := url.Values{
			"RoleArn":         {p.roleARN},
			"OIDCProviderArn": {p.providerARN},
			"OIDCToken":       {strings.TrimSpace(string(token))},
			"RoleSessionName": {"aliyun-cas-issuer-" + strconv.FormatInt(time.Now().Unix(), 10)},
			"DurationSeconds": {"3600"},
		}
		u := p.sts.scheme + "://" + p.sts.host + "/?" + q.Encode()
		resp, err := p.client.Post(u, "application/x-www-form-urlencoded", strings.NewReader(form.Encode()))
		if err != nil {
			e := &Error{Product: STS.Product, Action: "AssumeRoleWithOIDC", Err: err}
			classifyNetwork(e, err, nil)
			return nil, e
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil {
			return nil, err
		}
		if resp.StatusCode/100 != 2 {
			var eb struct{ Code, Message, RequestId string }
			_ = json.Unmarshal(body, &eb)
			e := &Error{Product: STS.Product, Action: "AssumeRoleWithOIDC", Code: eb.Code, Message: shortenMessage(eb.Message), RequestID: eb.RequestId, HTTPStatus: resp.StatusCode}
			if eb.Code == "" && eb.Message == "" {
				e.Message = shortenMessage(string(body))
			}
			e.classifyServer()
			return nil, e
		}
		var out stsResponse
		if err := json.Unmarshal(body, &out); err != nil {
			return nil, fmt.Errorf("STS AssumeRoleWithOIDC: unreadable answer: %w", err)
		}
		return out.Credentials, nil
	})
}
