package aliyun

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeAPI is an httptest server that routes by Action and records calls.
type fakeAPI struct {
	*httptest.Server
	mu     sync.Mutex
	calls  map[string]int
	params []url.Values
	handle func(action string, p url.Values) (int, string)
}

func newFake(t *testing.T, handle func(action string, p url.Values) (int, string)) *fakeAPI {
	t.Helper()
	f := &fakeAPI{calls: map[string]int{}, handle: handle}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		action := r.Form.Get("Action")
		f.mu.Lock()
		f.calls[action]++
		f.params = append(f.params, r.Form)
		f.mu.Unlock()
		status, body := f.handle(action, r.Form)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = w.Write([]byte(body))
	}))
	t.Cleanup(f.Close)
	return f
}

func (f *fakeAPI) count(action string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[action]
}

func errBody(code, msg string) string {
	b, _ := json.Marshal(map[string]string{"RequestId": "req-1", "Code": code, "Message": msg, "HostId": "cas.aliyuncs.com"})
	return string(b)
}

func testClient(t *testing.T, endpoint string, mod func(*Options)) *Client {
	t.Helper()
	o := Options{
		Endpoint:    endpoint,
		DNSEndpoint: endpoint,
		Credentials: Credentials{AccessKeyID: "testid", AccessKeySecret: "testsecret"},
		Timeout:     2 * time.Second,
		RateLimit:   1000,
		Burst:       1000,
		RetryBase:   time.Millisecond,
		Endpoints:   EndpointPolicy{AllowInsecure: true}, // httptest serves plain http
	}
	if mod != nil {
		mod(&o)
	}
	c, err := New(o)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	c.sleep = func(ctx context.Context, d time.Duration) error { return ctx.Err() }
	return c
}

func TestCallSignsSendsAndDecodes(t *testing.T) {
	f := newFake(t, func(action string, p url.Values) (int, string) {
		return 200, `{"RequestId":"r","OrderId":12345}`
	})
	var infos []CallInfo
	c := testClient(t, f.URL, func(o *Options) { o.OnCall = func(ci CallInfo) { infos = append(infos, ci) } })
	id, err := c.CreateCertificateWithCsrRequest(context.Background(), CSROrder{CSR: "-----BEGIN CERTIFICATE REQUEST-----\nabc+/=\n-----END CERTIFICATE REQUEST-----\n", ProductCode: "digicert-free-1-free", Username: "u", Phone: "1", Email: "a@b.c", ValidateType: "DNS"})
	if err != nil || id != 12345 {
		t.Fatalf("got %d, %v", id, err)
	}
	p := f.params[0]
	for k, want := range map[string]string{
		"Action": "CreateCertificateWithCsrRequest", "Version": "2020-04-07", "AccessKeyId": "testid",
		"SignatureMethod": "HMAC-SHA1", "SignatureVersion": "1.0", "Format": "JSON", "ValidateType": "DNS",
		"Csr": "-----BEGIN CERTIFICATE REQUEST-----\nabc+/=\n-----END CERTIFICATE REQUEST-----\n",
	} {
		if got := p.Get(k); got != want {
			t.Errorf("param %s = %q, want %q", k, got, want)
		}
	}
	for _, k := range []string{"Signature", "SignatureNonce", "Timestamp"} {
		if p.Get(k) == "" {
			t.Errorf("param %s missing", k)
		}
	}
	if len(infos) != 1 || infos[0].Outcome != OutcomeOK || infos[0].Action != "CreateCertificateWithCsrRequest" {
		t.Errorf("OnCall got %+v", infos)
	}
}

func TestCreateIsNeverRetried(t *testing.T) {
	for _, tc := range []struct {
		name   string
		status int
		body   string
	}{
		{"500", 500, errBody("InternalError", "boom")},
		{"503", 503, errBody("ServiceUnavailable", "later")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFake(t, func(string, url.Values) (int, string) { return tc.status, tc.body })
			c := testClient(t, f.URL, nil)
			_, err := c.CreateCertificateWithCsrRequest(context.Background(), CSROrder{CSR: "x"})
			e, ok := AsError(err)
			if !ok || e.Class != Transient || !e.OutcomeUnknown {
				t.Fatalf("got %#v", err)
			}
			if n := f.count("CreateCertificateWithCsrRequest"); n != 1 {
				t.Fatalf("create sent %d times", n)
			}
		})
	}
}

func TestCreateTimeoutIsOutcomeUnknown(t *testing.T) {
	release := make(chan struct{})
	arrived := make(chan struct{}, 10)
	f := newFake(t, func(string, url.Values) (int, string) {
		arrived <- struct{}{}
		<-release
		return 200, `{"OrderId":1}`
	})
	defer close(release)
	c := testClient(t, f.URL, func(o *Options) { o.Timeout = time.Second })
	_, err := c.CreateCertificateWithCsrRequest(context.Background(), CSROrder{CSR: "x"})
	e, ok := AsError(err)
	if !ok || e.Class != Transient || !e.OutcomeUnknown || e.Code != "Timeout" {
		t.Fatalf("got %v (%#v)", err, e)
	}
	select {
	case <-arrived:
	case <-time.After(5 * time.Second):
		t.Fatal("the create never reached the server")
	}
	// Nor is it sent again later: the count holds for a while.
	for end := time.Now().Add(300 * time.Millisecond); ; {
		if n := f.count("CreateCertificateWithCsrRequest"); n != 1 {
			t.Fatalf("create sent %d times", n)
		}
		if time.Now().After(end) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReadsAreRetried(t *testing.T) {
	n := 0
	f := newFake(t, func(string, url.Values) (int, string) {
		n++
		if n < 3 {
			return 503, errBody("ServiceUnavailable", "later")
		}
		return 200, `{"Type":"process"}`
	})
	var outcomes []string
	c := testClient(t, f.URL, func(o *Options) { o.OnCall = func(ci CallInfo) { outcomes = append(outcomes, ci.Outcome) } })
	cs, err := c.DescribeCertificateState(context.Background(), 7)
	if err != nil || cs.Type != StateProcess {
		t.Fatalf("got %+v, %v", cs, err)
	}
	if got := strings.Join(outcomes, ","); got != "ServiceUnavailable,ServiceUnavailable,ok" {
		t.Fatalf("outcomes %s", got)
	}
}

func TestReadsGiveUpAfterMaxAttempts(t *testing.T) {
	f := newFake(t, func(string, url.Values) (int, string) { return 500, errBody("InternalError", "boom") })
	c := testClient(t, f.URL, func(o *Options) { o.MaxAttempts = 3 })
	_, err := c.DescribePackageState(context.Background(), "p")
	if e, ok := AsError(err); !ok || e.Class != Transient {
		t.Fatalf("got %v", err)
	}
	if n := f.count("DescribePackageState"); n != 3 {
		t.Fatalf("%d attempts", n)
	}
}

func TestThrottledCallsAreSentAgainAndSlowTheAccount(t *testing.T) {
	throttledOnce := map[string]bool{}
	var mu sync.Mutex
	f := newFake(t, func(action string, _ url.Values) (int, string) {
		mu.Lock()
		defer mu.Unlock()
		if !throttledOnce[action] {
			throttledOnce[action] = true
			return 400, errBody("Throttling.User", "Request was denied due to user flow control.")
		}
		if action == "CreateCertificateWithCsrRequest" {
			return 200, `{"RequestId":"r","OrderId":7}`
		}
		return 200, `{"RequestId":"r","Type":"process"}`
	})
	var outcomes []string
	c := testClient(t, f.URL, func(o *Options) {
		o.RateLimit, o.Burst = 10, 10
		o.OnCall = func(ci CallInfo) { outcomes = append(outcomes, ci.Action+"/"+ci.Outcome) }
	})
	c.fakeLimiterClock()
	if _, err := c.DescribeCertificateState(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	// Flow control refuses a call before it runs: a throttled create is
	// sent again, and orders once.
	id, err := c.CreateCertificateWithCsrRequest(context.Background(), CSROrder{CSR: "x"})
	if err != nil || id != 7 {
		t.Fatalf("create: %d, %v", id, err)
	}
	if n := f.count("CreateCertificateWithCsrRequest"); n != 2 {
		t.Fatalf("create sent %d times, want 2 (throttled, then ordered)", n)
	}
	want := "DescribeCertificateState/throttled,DescribeCertificateState/ok,CreateCertificateWithCsrRequest/throttled,CreateCertificateWithCsrRequest/ok"
	if got := strings.Join(outcomes, ","); got != want {
		t.Fatalf("outcomes %s, want %s", got, want)
	}
	if r := c.limiters[CAS.Product].rates()[""]; r >= 10 {
		t.Fatalf("the account's rate is %v after throttled answers, want below the configured 10", r)
	}
}

func TestQueueLongerThanMaxWaitIsNotSent(t *testing.T) {
	f := newFake(t, func(string, url.Values) (int, string) { return 200, `{"RequestId":"r","Type":"process"}` })
	c := testClient(t, f.URL, func(o *Options) {
		o.RateLimit, o.Burst = 1, 1
		o.MaxWait = 100 * time.Millisecond
	})
	if _, err := c.DescribeCertificateState(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	_, err := c.CreateCertificateWithCsrRequest(context.Background(), CSROrder{CSR: "x"})
	e, ok := AsError(err)
	if !ok || !e.Throttled || e.OutcomeUnknown || e.Code != codeClientThrottled || e.RetryAfter < 500*time.Millisecond {
		t.Fatalf("got %v (%+v), want a client-side throttle with the wait as RetryAfter", err, e)
	}
	if n := f.count("CreateCertificateWithCsrRequest"); n != 0 {
		t.Fatalf("create sent %d times beyond the rate limit", n)
	}
}

func TestClassification(t *testing.T) {
	for _, tc := range []struct {
		status int
		body   string
		class  Class
		reason string
	}{
		{404, errBody("InvalidAccessKeyId.NotFound", "Specified access key is not found."), Issuer, ReasonInvalidCredentials},
		{400, errBody("InvalidAccessKeyId.Inactive", "inactive"), Issuer, ReasonInvalidCredentials},
		{400, errBody("SignatureDoesNotMatch", "Specified signature is not matched with our calculation. server string to sign is:POST&%2F&x"), Issuer, ReasonInvalidCredentials},
		{400, errBody("InvalidSecurityToken.Expired", "expired"), Issuer, ReasonInvalidCredentials},
		{403, errBody("Forbidden.RAM", "no"), Issuer, ReasonAccessDenied},
		{403, errBody("NoPermission", "no"), Issuer, ReasonAccessDenied},
		{404, errBody("InvalidAction.NotFound", "Specified api is not found"), Issuer, ReasonUnsupportedAPI},
		{400, errBody("InvalidVersion", "bad version"), Issuer, ReasonUnsupportedAPI},
		{400, errBody("InvalidTimeStamp.Expired", "skew"), Issuer, ReasonClockSkew},
		{400, errBody("MissingParameter", "Username"), Issuer, ReasonMisconfigured},
		{400, errBody("InvalidParameter.Csr", "bad csr"), Permanent, ReasonInvalidParameter},
		{400, errBody("QuotaExceeded", "no more"), Permanent, ReasonQuotaExhausted},
		{400, errBody("InsufficientQuota.Package", "no more"), Permanent, ReasonQuotaExhausted},
		{400, errBody("InvalidProductCode", "nope"), Permanent, ReasonUnsupportedProduct},
		{400, errBody("OrderNotFound", "no such order"), Permanent, ReasonRejected},
		// The CAS error table's codes.
		{404, errBody("NotRemainCount", "no certificate left"), Permanent, ReasonQuotaExhausted},
		{404, errBody("NotFoundPackage", "no package"), Issuer, ReasonNoPackage},
		{404, errBody("NotFoundOrder", "no such order"), Permanent, ReasonOrderNotFound},
		{403, errBody("OrderStateError", "wrong state"), Permanent, ReasonOrderState},
		{403, errBody("DeleteFail", "cannot delete"), Permanent, ReasonOrderState},
		// STS.
		{401, errBody("AuthenticationFail.OIDCToken.Invalid", "bad token"), Issuer, ReasonInvalidCredentials},
		{401, errBody("AuthenticationFail.OIDCToken.Expired", "old token"), Issuer, ReasonInvalidCredentials},
		{400, errBody("MissingOIDCToken", "OIDCToken is mandatory"), Issuer, ReasonMisconfigured},
		{400, errBody("Throttling.Api", "slow"), Transient, ReasonThrottled},
		{400, errBody("SignatureNonceUsed", "again"), Transient, ReasonRejected},
		{500, errBody("InternalError", "boom"), Transient, ReasonUnavailable},
		{503, errBody("ServiceUnavailable", "later"), Transient, ReasonUnavailable},
		{502, "<html>bad gateway</html>", Transient, ReasonUnavailable},
		{404, "<html>not found</html>", Issuer, ReasonBadEndpoint},
		{200, "<html>welcome</html>", Issuer, ReasonBadEndpoint},
	} {
		t.Run(fmt.Sprintf("%d %.40s", tc.status, tc.body), func(t *testing.T) {
			f := newFake(t, func(string, url.Values) (int, string) { return tc.status, tc.body })
			c := testClient(t, f.URL, func(o *Options) { o.MaxAttempts = 1; o.MaxWait = time.Millisecond })
			_, err := c.DescribePackageState(context.Background(), "p")
			e, ok := AsError(err)
			if !ok {
				t.Fatalf("not an *Error: %v", err)
			}
			if e.Class != tc.class || e.Reason != tc.reason {
				t.Fatalf("class %v reason %s, want %v %s (%v)", e.Class, e.Reason, tc.class, tc.reason, err)
			}
			if strings.Contains(err.Error(), "server string to sign") {
				t.Errorf("message keeps the string to sign: %v", err)
			}
		})
	}
}

func TestNetworkClassification(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := "http://" + l.Addr().String()
	l.Close()
	for _, tc := range []struct {
		name, endpoint, code string
	}{
		{"refused", closed, "ConnectionRefused"},
		{"unresolvable", "https://cas.no-such-host.invalid", "HostNotFound"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := testClient(t, tc.endpoint, nil)
			_, err := c.CreateCertificateWithCsrRequest(context.Background(), CSROrder{CSR: "x"})
			e, ok := AsError(err)
			if !ok || e.Class != Issuer || e.Code != tc.code || e.OutcomeUnknown {
				t.Fatalf("got %v (%+v)", err, e)
			}
		})
	}
}

func TestEndpointValidation(t *testing.T) {
	for _, ep := range []string{"cas.aliyuncs.com", "ftp://cas.aliyuncs.com", "https://", "https://cas.aliyuncs.com/path", "https://u:p@cas.aliyuncs.com"} {
		if _, err := New(Options{Endpoint: ep, Credentials: Credentials{AccessKeyID: "a", AccessKeySecret: "b"}}); err == nil {
			t.Errorf("endpoint %q accepted", ep)
		}
	}
	c, err := New(Options{Endpoint: "https://cas.ap-southeast-1.aliyuncs.com/", Credentials: Credentials{AccessKeyID: "a", AccessKeySecret: "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if c.region != "ap-southeast-1" {
		t.Errorf("region %q", c.region)
	}
}

func TestCredentialsValidate(t *testing.T) {
	for _, tc := range []struct {
		c  Credentials
		ok bool
	}{
		{Credentials{AccessKeyID: "a", AccessKeySecret: "b"}, true},
		{Credentials{AccessKeyID: "a", AccessKeySecret: "b", SecurityToken: "t"}, true},
		{Credentials{Ambient: true}, true},
		{Credentials{Ambient: true, RoleARN: "acs:ram::1:role/x"}, true},
		{Credentials{}, false},
		{Credentials{AccessKeyID: "a"}, false},
		{Credentials{AccessKeyID: "a", AccessKeySecret: "b", Ambient: true}, false},
		{Credentials{Ambient: true, SecurityToken: "t"}, false},
		{Credentials{AccessKeyID: "a", AccessKeySecret: "b", STSEndpoint: "sts"}, false},
	} {
		if err := tc.c.Validate(); (err == nil) != tc.ok {
			t.Errorf("%v: Validate() = %v", tc.c, err)
		}
	}
}

func TestCredentialsAreRedacted(t *testing.T) {
	c := Credentials{AccessKeyID: "test5tABCDEFGHIJKLMN", AccessKeySecret: "TOPSECRETVALUE", SecurityToken: "TOKENVALUE", RoleARN: "acs:ram::1:role/x"}
	type wrapper struct {
		Name  string
		Creds Credentials
	}
	js, _ := json.Marshal(wrapper{"x", c})
	var logged strings.Builder
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("creds", "c", c)
	for _, s := range []string{
		//lint:ignore S1025 every fmt verb is what the test checks
		fmt.Sprintf("%v", c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), fmt.Sprintf("%s", c),
		fmt.Sprintf("%v", wrapper{"x", c}), fmt.Sprintf("%+v", wrapper{"x", c}), fmt.Sprintf("%#v", &c),
		string(js), logged.String(),
	} {
		if strings.Contains(s, "TOPSECRET") || strings.Contains(s, "TOKENVALUE") || strings.Contains(s, "test5tABCDEFGHIJKLMN") {
			t.Errorf("secret printed: %s", s)
		}
	}
	if !strings.Contains(c.String(), "acs:ram::1:role/x") || !strings.Contains(c.String(), "test****KLMN") {
		t.Errorf("String() lost the non-secret parts: %s", c)
	}
}

func TestAssumeRole(t *testing.T) {
	var mu sync.Mutex
	var casKeys, casTokens []string
	f := newFake(t, func(action string, p url.Values) (int, string) {
		switch action {
		case "AssumeRole":
			if p.Get("AccessKeyId") != "testid" || p.Get("RoleArn") != "acs:ram::1:role/issuer" {
				return 400, errBody("InvalidParameter", "unexpected")
			}
			exp := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
			return 200, `{"RequestId":"r","Credentials":{"AccessKeyId":"STS.abc","AccessKeySecret":"stssecret","SecurityToken":"tok","Expiration":"` + exp + `"}}`
		default:
			mu.Lock()
			casKeys = append(casKeys, p.Get("AccessKeyId"))
			casTokens = append(casTokens, p.Get("SecurityToken"))
			mu.Unlock()
			return 200, `{"TotalCount":3}`
		}
	})
	c := testClient(t, f.URL, func(o *Options) {
		o.Credentials.RoleARN = "acs:ram::1:role/issuer"
		o.Credentials.STSEndpoint = f.URL
	})
	for i := 0; i < 2; i++ {
		ps, err := c.DescribePackageState(context.Background(), "p")
		if err != nil || ps.TotalCount != 3 {
			t.Fatalf("got %+v, %v", ps, err)
		}
	}
	if n := f.count("AssumeRole"); n != 1 {
		t.Errorf("AssumeRole called %d times, want 1 (cached)", n)
	}
	if strings.Join(casKeys, ",") != "STS.abc,STS.abc" || strings.Join(casTokens, ",") != "tok,tok" {
		t.Errorf("CAS calls signed with %v / %v", casKeys, casTokens)
	}
}

func TestAssumeRoleDenied(t *testing.T) {
	f := newFake(t, func(action string, p url.Values) (int, string) {
		if action == "AssumeRole" {
			return 400, errBody("InvalidParameter.RoleArn", "no such role")
		}
		return 200, `{}`
	})
	c := testClient(t, f.URL, func(o *Options) {
		o.Credentials.RoleARN = "acs:ram::1:role/nope"
		o.Credentials.STSEndpoint = f.URL
	})
	_, err := c.DescribePackageState(context.Background(), "p")
	e, ok := AsError(err)
	if !ok || e.Class != Issuer {
		t.Fatalf("got %v (%+v)", err, e)
	}
	if f.count("DescribePackageState") != 0 {
		t.Error("CAS called without credentials")
	}
}

func TestRRSAWithSTSEndpoint(t *testing.T) {
	dir := t.TempDir()
	tokenFile := dir + "/token"
	if err := writeFile(tokenFile, "oidc-token\n"); err != nil {
		t.Fatal(err)
	}
	t.Setenv("ALIBABA_CLOUD_ROLE_ARN", "acs:ram::1:role/rrsa")
	t.Setenv("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", "acs:ram::1:oidc-provider/ack")
	t.Setenv("ALIBABA_CLOUD_OIDC_TOKEN_FILE", tokenFile)
	f := newFake(t, func(action string, p url.Values) (int, string) {
		if action == "AssumeRoleWithOIDC" {
			if p.Get("OIDCToken") != "oidc-token" || p.Get("RoleArn") != "acs:ram::1:role/rrsa" {
				return 400, errBody("InvalidParameter", "unexpected")
			}
			return 200, `{"Credentials":{"AccessKeyId":"STS.oidc","AccessKeySecret":"s","SecurityToken":"t","Expiration":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}}`
		}
		if p.Get("AccessKeyId") != "STS.oidc" {
			return 400, errBody("InvalidAccessKeyId.NotFound", "who")
		}
		return 200, `{"TotalCount":1}`
	})
	c := testClient(t, f.URL, func(o *Options) { o.Credentials = Credentials{Ambient: true, STSEndpoint: f.URL} })
	if _, err := c.DescribePackageState(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimit(t *testing.T) {
	f := newFake(t, func(string, url.Values) (int, string) { return 200, `{}` })
	c := testClient(t, f.URL, func(o *Options) { o.RateLimit = 20; o.Burst = 1 })
	start := time.Now()
	for i := 0; i < 5; i++ {
		if _, err := c.DescribePackageState(context.Background(), "p"); err != nil {
			t.Fatal(err)
		}
	}
	if d := time.Since(start); d < 150*time.Millisecond {
		t.Fatalf("5 calls at 20/s with burst 1 took %v", d)
	}
}

func TestRateLimitRespectsDeadline(t *testing.T) {
	f := newFake(t, func(string, url.Values) (int, string) { return 200, `{}` })
	c := testClient(t, f.URL, func(o *Options) { o.RateLimit = 0.01; o.Burst = 1 })
	if _, err := c.DescribePackageState(context.Background(), "p"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := c.CreateCertificateWithCsrRequest(ctx, CSROrder{CSR: "x"})
	e, ok := AsError(err)
	if !ok || !e.Throttled || e.OutcomeUnknown {
		t.Fatalf("got %v", err)
	}
	if f.count("CreateCertificateWithCsrRequest") != 0 {
		t.Fatal("create sent beyond the rate limit")
	}
}

func TestFlexTypes(t *testing.T) {
	var v struct {
		A FlexInt
		B FlexInt
		C FlexString
		D Timestamp
		E Timestamp
		F Timestamp
		G FlexBool
	}
	in := `{"A":"42","B":7,"C":123456789012,"D":1700000000000,"E":"2024-01-02 03:04:05","F":"2024-01-02T03:04:05Z","G":"true"}`
	if err := json.Unmarshal([]byte(in), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != 42 || v.B != 7 || v.C != "123456789012" || !bool(v.G) {
		t.Errorf("got %+v", v)
	}
	if !v.D.Equal(time.UnixMilli(1700000000000)) {
		t.Errorf("D = %v", v.D)
	}
	if want := time.Date(2024, 1, 1, 19, 4, 5, 0, time.UTC); !v.E.Equal(want) {
		t.Errorf("E = %v, want %v", v.E, want)
	}
	if want := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC); !v.F.Equal(want) {
		t.Errorf("F = %v", v.F)
	}
}

func TestIsCode(t *testing.T) {
	err := fmt.Errorf("wrapped: %w", &Error{Code: "Throttling.User"})
	if !IsCode(err, "Throttling") || IsCode(err, "Throttl") || !errors.As(err, new(*Error)) {
		t.Fatal("IsCode")
	}
}

func writeFile(name, content string) error { return os.WriteFile(name, []byte(content), 0o600) }
