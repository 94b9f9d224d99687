package aliyunsim

import (
	"encoding/xml"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	sdkerrors "github.com/aliyun/alibaba-cloud-sdk-go/sdk/errors"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
	"github.com/aliyun/alibaba-cloud-sdk-go/services/cas"
)

// sdkConfig is the classic SDK's configuration for the simulator: no automatic retry (the
// simulator's faults are for the project's own retry logic).
func sdkConfig() *sdk.Config {
	return sdk.NewConfig().WithAutoRetry(false).WithScheme("HTTP").WithTimeout(10 * time.Second)
}

// commonRequest addresses the simulator explicitly, so the SDK never asks the Location
// service for an endpoint.
func commonRequest(host, product, version, action string, params map[string]string) *requests.CommonRequest {
	r := requests.NewCommonRequest()
	r.Method = requests.POST
	r.Scheme = requests.HTTP
	r.Domain = host
	r.Product = product
	r.Version = version
	r.ApiName = action
	for k, v := range params {
		r.QueryParams[k] = v
	}
	return r
}

func TestOfficialSDKEndToEnd(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.DVInstances = 1 })
	host := strings.TrimPrefix(e.url, "http://")
	client, err := cas.NewClientWithOptions("cn-hangzhou", sdkConfig(), credentials.NewAccessKeyCredential(testID, testSecret))
	if err != nil {
		t.Fatal(err)
	}

	key := rsaKey(t, 2048)
	create := cas.CreateCreateCertificateWithCsrRequestRequest()
	create.Scheme, create.Domain = requests.HTTP, host
	create.Csr = makeCSR(t, key, "sdk.example.com", []string{"sdk.example.com"}, nil)
	create.ProductCode = DefaultProduct
	create.Username, create.Phone, create.Email, create.ValidateType = "Ops", "13800000000", "ops@example.com", "DNS"
	created, err := client.CreateCertificateWithCsrRequest(create)
	if err != nil {
		t.Fatalf("CreateCertificateWithCsrRequest: %v", err)
	}
	if created.OrderId == 0 || created.RequestId == "" {
		t.Fatalf("create answer: %+v", created)
	}

	describe := func() *cas.DescribeCertificateStateResponse {
		t.Helper()
		req := cas.CreateDescribeCertificateStateRequest()
		req.Scheme, req.Domain = requests.HTTP, host
		req.OrderId = requests.NewInteger64(created.OrderId)
		resp, err := client.DescribeCertificateState(req)
		if err != nil {
			t.Fatalf("DescribeCertificateState: %v", err)
		}
		return resp
	}
	st := describe()
	if st.Type != "domain_verify" || st.RecordDomain != "_dnsauth" || st.RecordType != "TXT" || st.RecordValue == "" || st.Domain != "sdk.example.com" {
		t.Fatalf("domain_verify: %+v", st)
	}

	// The DNS record through Alidns, with the SDK's CommonRequest.
	add := commonRequest(host, "Alidns", VersionAlidns, "AddDomainRecord", map[string]string{
		"DomainName": "example.com", "RR": st.RecordDomain + ".sdk", "Type": st.RecordType, "Value": st.RecordValue,
	})
	resp, err := client.ProcessCommonRequest(add)
	if err != nil {
		t.Fatalf("AddDomainRecord: %v", err)
	}
	if !strings.Contains(resp.GetHttpContentString(), `"RecordId"`) {
		t.Fatalf("AddDomainRecord answer: %s", resp.GetHttpContentString())
	}

	st = describe()
	if st.Type != "certificate" || st.PrivateKey != "" {
		t.Fatalf("certificate: %+v", st)
	}
	// The root, as a test fetches it.
	hr, err := http.Get(e.url + "/_sim/ca.pem")
	if err != nil {
		t.Fatal(err)
	}
	rootPEM, _ := io.ReadAll(hr.Body)
	hr.Body.Close()
	leaf := verifyChain(t, st.Certificate, rootPEM, "sdk.example.com")
	if !publicKeysEqual(leaf.PublicKey, key.Public()) {
		t.Fatal("the certificate does not carry the CSR's key")
	}

	// The typed listing decodes, and finds the order by domain.
	list := cas.CreateListUserCertificateOrderRequest()
	list.Scheme, list.Domain = requests.HTTP, host
	list.Keyword, list.Status = "sdk.example", "ISSUED"
	listed, err := client.ListUserCertificateOrder(list)
	if err != nil {
		t.Fatalf("ListUserCertificateOrder: %v", err)
	}
	if listed.TotalCount != 1 || listed.CertificateOrderList[0].OrderId != created.OrderId || listed.CertificateOrderList[0].Domain != "sdk.example.com" {
		t.Fatalf("listing: %+v", listed)
	}
	pkg := cas.CreateDescribePackageStateRequest()
	pkg.Scheme, pkg.Domain = requests.HTTP, host
	pkg.ProductCode = DefaultProduct
	ps, err := client.DescribePackageState(pkg)
	if err != nil || ps.UsedCount != 1 || ps.IssuedCount != 1 || ps.TotalCount != 5 {
		t.Fatalf("DescribePackageState: %+v %v", ps, err)
	}

	// CAS 2018-07-13 through CommonRequest, answered in XML.
	legacy := commonRequest(host, "cas", VersionCAS2018, "DescribeOrderInstanceList", map[string]string{"StartIndex": "1"})
	legacy.AcceptFormat = "XML"
	resp, err = client.ProcessCommonRequest(legacy)
	if err != nil {
		t.Fatalf("DescribeOrderInstanceList: %v", err)
	}
	var x struct {
		TotalCount int
		OrderList  []struct{ InstanceId, Status string }
	}
	if err := xml.Unmarshal(resp.GetHttpContentBytes(), &x); err != nil || x.TotalCount != 1 || x.OrderList[0].Status != "PAYED" {
		t.Fatalf("XML listing %s: %v", resp.GetHttpContentString(), err)
	}

	// A wrong secret: the SDK compares its string to sign with the one in our message and, as
	// they are equal, blames the secret.
	bad, err := cas.NewClientWithOptions("cn-hangzhou", sdkConfig(), credentials.NewAccessKeyCredential(testID, "wrong"))
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.DescribePackageState(pkg)
	var se *sdkerrors.ServerError
	if !errors.As(err, &se) || se.ErrorCode() != "SignatureDoesNotMatch" || se.HttpStatus() != 400 || !strings.Contains(se.Recommend(), "InvalidAccessKeySecret") {
		t.Fatalf("wrong secret: %v", err)
	}
	// The SDK's error for a simulator error code.
	_, err = client.DescribeCertificateState(func() *cas.DescribeCertificateStateRequest {
		r := cas.CreateDescribeCertificateStateRequest()
		r.Scheme, r.Domain, r.OrderId = requests.HTTP, host, requests.NewInteger(1)
		return r
	}())
	if !errors.As(err, &se) || se.ErrorCode() != "NotFoundOrder" || se.HttpStatus() != 404 || se.RequestId() == "" {
		t.Fatalf("unknown order: %v", err)
	}
}
