package framework

import (
	"fmt"
	"net/url"
	"strings"

	"github.com/aliyun/alibaba-cloud-sdk-go/sdk"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/auth/credentials"
	"github.com/aliyun/alibaba-cloud-sdk-go/sdk/requests"
)

// AddDNSRecord creates an Alidns record in the simulator the way a person
// (or their DNS tooling) would, through the official SDK. name is the full
// record name; zone is the Alidns domain holding it.
func (f *Framework) AddDNSRecord(zone, name, typ, value string) error {
	u, err := url.Parse(f.SimURL)
	if err != nil {
		return err
	}
	c, err := sdk.NewClientWithOptions("cn-hangzhou", sdk.NewConfig(), credentials.NewAccessKeyCredential(SimAccessKeyID, SimAccessKeySecret))
	if err != nil {
		return err
	}
	c.SetHttpProxy("")
	req := requests.NewCommonRequest()
	req.Scheme = u.Scheme
	req.Domain = u.Host
	req.Version = "2015-01-09"
	req.ApiName = "AddDomainRecord"
	req.Method = "POST"
	rr := strings.TrimSuffix(strings.TrimSuffix(name, "."+zone), ".")
	if rr == zone {
		rr = "@"
	}
	req.QueryParams = map[string]string{"DomainName": zone, "RR": rr, "Type": typ, "Value": value}
	resp, err := c.ProcessCommonRequest(req)
	if err != nil {
		return fmt.Errorf("AddDomainRecord %s %s: %w", name, typ, err)
	}
	if !resp.IsSuccess() {
		return fmt.Errorf("AddDomainRecord %s %s: HTTP %d: %s", name, typ, resp.GetHttpStatus(), resp.GetHttpContentString())
	}
	return nil
}
