package aliyunsim

import (
	"sort"
	"time"
)

// product is one entry of the CAS catalogue. The codes are Alibaba's; the limits (names per
// certificate, wildcard, validity) are the simulator's reading of the product names and are
// (unverified): Alibaba does not publish them per code.
type product struct {
	Code     string
	Name     string
	Brand    string
	MaxNames int  // names per certificate (unverified)
	Wildcard bool // whether wildcard names are accepted (unverified)
	Days     int  // certificate validity in days (unverified; Alibaba changes it with CA/B rules)
}

func (p product) validity() time.Duration { return time.Duration(p.Days) * 24 * time.Hour }

// products is the documented catalogue: the codes Alibaba's CAS API references give as
// ProductCode values (CreateCertificateRequest, CreateCertificateWithCsrRequest,
// DescribePackageState). Nothing else is accepted.
var products = map[string]product{
	// Free single-domain DV: one plain name, three months; sold on the China site only.
	"digicert-free-1-free": {Code: "digicert-free-1-free", Name: "DigiCert DV Free", Brand: "DigiCert", MaxNames: 1, Days: 90},
	"symantec-free-1-free": {Code: "symantec-free-1-free", Name: "Symantec DV Free", Brand: "Symantec", MaxNames: 1, Days: 90},
	// Paid DV: "-1-" one name, "-w-" wildcard.
	"symantec-dv-1-starter":    {Code: "symantec-dv-1-starter", Name: "Symantec DV Starter", Brand: "Symantec", MaxNames: 1, Wildcard: true, Days: 365},
	"geotrust-dv-1-starter":    {Code: "geotrust-dv-1-starter", Name: "GeoTrust DV Starter", Brand: "GeoTrust", MaxNames: 1, Days: 365},
	"geotrust-dv-w-starter":    {Code: "geotrust-dv-w-starter", Name: "GeoTrust DV Wildcard Starter", Brand: "GeoTrust", MaxNames: 1, Wildcard: true, Days: 365},
	"globalsign-dv-1-personal": {Code: "globalsign-dv-1-personal", Name: "GlobalSign DV Personal", Brand: "GlobalSign", MaxNames: 1, Days: 365},
	"globalsign-dv-w-advanced": {Code: "globalsign-dv-w-advanced", Name: "GlobalSign DV Wildcard Advanced", Brand: "GlobalSign", MaxNames: 1, Wildcard: true, Days: 365},
}

// dvInstanceProduct is what a purchased CAS 2018-07-13 DV instance is: the legacy free
// Symantec DV certificate (unverified; the instance listing only says CertType DV).
const dvInstanceProduct = "symantec-free-1-free"

func productCodes() []string {
	codes := make([]string, 0, len(products))
	for c := range products {
		codes = append(codes, c)
	}
	sort.Strings(codes)
	return codes
}
