package aliyun

import (
	"context"
	"strconv"
)

// Domain is one Alidns zone.
type Domain struct {
	DomainID   FlexString `json:"DomainId"`
	DomainName string     `json:"DomainName"`
}

// DomainList is DescribeDomains' answer.
type DomainList struct {
	RequestID  string  `json:"RequestId"`
	TotalCount FlexInt `json:"TotalCount"`
	PageNumber FlexInt `json:"PageNumber"`
	PageSize   FlexInt `json:"PageSize"`
	Domains    struct {
		Domain []Domain `json:"Domain"`
	} `json:"Domains"`
}

// DescribeDomains lists one page of the account's zones; keyword, when set,
// filters them (SearchMode LIKE).
func (c *Client) DescribeDomains(ctx context.Context, keyword string, pageNumber, pageSize int) (*DomainList, error) {
	p := map[string]string{}
	if keyword != "" {
		p["KeyWord"] = keyword
	}
	if pageNumber > 0 {
		p["PageNumber"] = strconv.Itoa(pageNumber)
	}
	if pageSize > 0 {
		p["PageSize"] = strconv.Itoa(pageSize)
	}
	var out DomainList
	if err := c.Call(ctx, Alidns, "DescribeDomains", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// DomainRecord is one DNS record.
type DomainRecord struct {
	RecordID   FlexString `json:"RecordId"`
	DomainName string     `json:"DomainName"`
	RR         string     `json:"RR"`
	Type       string     `json:"Type"`
	Value      string     `json:"Value"`
	TTL        FlexInt    `json:"TTL"`
	Line       string     `json:"Line"`
	Status     string     `json:"Status"`
}

// DomainRecordList is DescribeSubDomainRecords' answer.
type DomainRecordList struct {
	RequestID     string  `json:"RequestId"`
	TotalCount    FlexInt `json:"TotalCount"`
	DomainRecords struct {
		Record []DomainRecord `json:"Record"`
	} `json:"DomainRecords"`
}

// NewRecord is the input of AddDomainRecord.
type NewRecord struct {
	DomainName string // the zone
	RR         string // host within the zone, "@" for the apex
	Type       string
	Value      string
	TTL        int // 0: the default (600)
}

// AddDomainRecord creates a record and returns its id. Never retried.
func (c *Client) AddDomainRecord(ctx context.Context, r NewRecord) (string, error) {
	p := map[string]string{"DomainName": r.DomainName, "RR": r.RR, "Type": r.Type, "Value": r.Value}
	if r.TTL > 0 {
		p["TTL"] = strconv.Itoa(r.TTL)
	}
	var out struct {
		RequestID string     `json:"RequestId"`
		RecordID  FlexString `json:"RecordId"`
	}
	if err := c.Call(ctx, Alidns, "AddDomainRecord", p, &out); err != nil {
		return "", err
	}
	if out.RecordID == "" {
		return "", missingField(Alidns, "AddDomainRecord", out.RequestID, "RecordId")
	}
	return string(out.RecordID), nil
}

// DeleteDomainRecord deletes a record by id.
func (c *Client) DeleteDomainRecord(ctx context.Context, recordID string) error {
	return c.Call(ctx, Alidns, "DeleteDomainRecord", map[string]string{"RecordId": recordID}, nil)
}

// DescribeSubDomainRecords lists the records of one name (e.g.
// "_dnsauth.www.example.com") in zone, optionally of one type. The zone is
// always sent: without DomainName, Alidns searches the name's registrable
// domain, and a delegated sub-zone of the account (dev.example.com) would
// never be searched.
func (c *Client) DescribeSubDomainRecords(ctx context.Context, zone, subDomain, recordType string) (*DomainRecordList, error) {
	p := map[string]string{"SubDomain": subDomain, "DomainName": zone}
	if recordType != "" {
		p["Type"] = recordType
	}
	var out DomainRecordList
	if err := c.Call(ctx, Alidns, "DescribeSubDomainRecords", p, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
