package aliyunsim

import (
	"testing"
)

func records(t *testing.T, r result) []map[string]any {
	t.Helper()
	expectOK(t, r)
	var out []map[string]any
	for _, it := range r.Body["DomainRecords"].(map[string]any)["Record"].([]any) {
		out = append(out, it.(map[string]any))
	}
	return out
}

func TestAlidns(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Zones = []string{"example.com", "sub.example.com", "other.net"}
		c.ForeignZones = []string{"theirs.com"}
	})
	c := e.c

	r := c.call(VersionAlidns, "DescribeDomains")
	expectOK(t, r)
	if r.num("TotalCount") != 3 {
		t.Fatalf("DescribeDomains: %s", r.Raw)
	}
	doms := r.Body["Domains"].(map[string]any)["Domain"].([]any)
	if d := doms[0].(map[string]any); d["DomainName"] != "example.com" || d["DomainId"] == "" {
		t.Fatalf("domain: %v", d)
	}
	if r := c.call(VersionAlidns, "DescribeDomains", "KeyWord", "example", "SearchMode", "LIKE"); r.num("TotalCount") != 2 {
		t.Fatalf("LIKE: %s", r.Raw)
	}
	if r := c.call(VersionAlidns, "DescribeDomains", "KeyWord", "example.com", "SearchMode", "EXACT"); r.num("TotalCount") != 1 {
		t.Fatalf("EXACT: %s", r.Raw)
	}
	if r := c.call(VersionAlidns, "DescribeDomains", "PageSize", "2", "PageNumber", "2"); len(r.Body["Domains"].(map[string]any)["Domain"].([]any)) != 1 {
		t.Fatalf("page 2: %s", r.Raw)
	}

	id := e.addTXT("example.com", "_dnsauth.www", "token1")
	e.addTXT("example.com", "_dnsauth.www", "token2") // another value at the same name is fine
	aID := c.call(VersionAlidns, "AddDomainRecord", "DomainName", "example.com", "RR", "@", "Type", "A", "Value", "192.0.2.1").str("RecordId")
	e.addTXT("sub.example.com", "_dnsauth.x", "in-sub")

	errCases := []struct {
		name string
		kv   []string
		code string
	}{
		{"duplicate", []string{"DomainName", "example.com", "RR", "_dnsauth.www", "Type", "TXT", "Value", "token1"}, "DomainRecordDuplicate"},
		{"CNAME beside TXT", []string{"DomainName", "example.com", "RR", "_dnsauth.www", "Type", "CNAME", "Value", "x.example.net"}, "DomainRecordConflict"},
		{"unknown zone", []string{"DomainName", "nowhere.org", "RR", "a", "Type", "TXT", "Value", "v"}, "InvalidDomainName.NoExist"},
		{"foreign zone", []string{"DomainName", "theirs.com", "RR", "a", "Type", "TXT", "Value", "v"}, "IncorrectDomainUser"},
		{"malformed zone", []string{"DomainName", "bad zone", "RR", "a", "Type", "TXT", "Value", "v"}, "InvalidDomainName.Format"},
		{"bad RR", []string{"DomainName", "example.com", "RR", "a b", "Type", "TXT", "Value", "v"}, "InvalidParameter.RR"},
		{"bad type", []string{"DomainName", "example.com", "RR", "a", "Type", "XYZ", "Value", "v"}, "InvalidParameter.Type"},
		{"bad A", []string{"DomainName", "example.com", "RR", "a", "Type", "A", "Value", "::1"}, "InvalidParameter.Value"},
		{"bad TTL", []string{"DomainName", "example.com", "RR", "a", "Type", "TXT", "Value", "v", "TTL", "0"}, "InvalidParameter"},
		{"missing Value", []string{"DomainName", "example.com", "RR", "a", "Type", "TXT"}, "MissingParameter"},
	}
	for _, ec := range errCases {
		t.Run(ec.name, func(t *testing.T) {
			expectErr(t, c.call(VersionAlidns, "AddDomainRecord", ec.kv...), 400, ec.code)
		})
	}

	recs := records(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "example.com"))
	if len(recs) != 3 {
		t.Fatalf("records: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "example.com", "RRKeyWord", "dnsauth", "TypeKeyWord", "TXT")); len(recs) != 2 {
		t.Fatalf("RRKeyWord: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "example.com", "ValueKeyWord", "token2", "SearchMode", "EXACT")); len(recs) != 1 || recs[0]["Value"] != "token2" {
		t.Fatalf("ValueKeyWord: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "example.com", "Type", "A")); len(recs) != 1 || recs[0]["RecordId"] != aID {
		t.Fatalf("Type A: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "example.com", "PageSize", "2", "PageNumber", "2")); len(recs) != 1 {
		t.Fatalf("page 2: %v", recs)
	}
	expectErr(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "nowhere.org"), 400, "InvalidDomainName.NoExist")
	expectErr(t, c.call(VersionAlidns, "DescribeDomainRecords", "DomainName", "example.com", "PageSize", "101"), 400, "InvalidParameter")

	// DescribeSubDomainRecords searches DomainName, by default the registrable domain: a
	// delegated sub-zone is searched only when named.
	if recs := records(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "_dnsauth.www.example.com")); len(recs) != 2 {
		t.Fatalf("SubDomain: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "_dnsauth.x.sub.example.com", "Type", "TXT")); len(recs) != 0 {
		t.Fatalf("SubDomain in sub zone without DomainName: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "_dnsauth.x.sub.example.com", "Type", "TXT", "DomainName", "sub.example.com")); len(recs) != 1 || recs[0]["DomainName"] != "sub.example.com" || recs[0]["RR"] != "_dnsauth.x" {
		t.Fatalf("SubDomain in sub zone: %v", recs)
	}
	for _, size := range []string{"0", "101"} {
		expectErr(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "example.com", "PageSize", size), 400, "InvalidParameter")
		expectErr(t, c.call(VersionAlidns, "DescribeDomains", "PageSize", size), 400, "InvalidParameter")
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "example.com")); len(recs) != 1 || recs[0]["RR"] != "@" {
		t.Fatalf("apex: %v", recs)
	}
	if recs := records(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "a.nowhere.org")); len(recs) != 0 {
		t.Fatalf("outside the zones: %v", recs)
	}
	expectErr(t, c.call(VersionAlidns, "DescribeSubDomainRecords", "SubDomain", "a.theirs.com"), 400, "IncorrectDomainUser")

	// Update: a change is fine, no change is a duplicate, unknown ids do not belong to the user.
	expectOK(t, c.call(VersionAlidns, "UpdateDomainRecord", "RecordId", id, "RR", "_dnsauth.www", "Type", "TXT", "Value", "token3"))
	expectErr(t, c.call(VersionAlidns, "UpdateDomainRecord", "RecordId", id, "RR", "_dnsauth.www", "Type", "TXT", "Value", "token3"), 400, "DomainRecordDuplicate")
	expectOK(t, c.call(VersionAlidns, "UpdateDomainRecord", "RecordId", id, "RR", "_dnsauth.www", "Type", "TXT", "Value", "token3", "TTL", "300"))
	expectErr(t, c.call(VersionAlidns, "UpdateDomainRecord", "RecordId", "1", "RR", "a", "Type", "TXT", "Value", "v"), 400, "DomainRecordNotBelongToUser")
	// Changing the only record at a name into a CNAME is allowed; beside another record it is not.
	expectOK(t, c.call(VersionAlidns, "UpdateDomainRecord", "RecordId", aID, "RR", "www", "Type", "CNAME", "Value", "target.example.net"))
	expectErr(t, c.call(VersionAlidns, "UpdateDomainRecord", "RecordId", id, "RR", "www", "Type", "TXT", "Value", "x"), 400, "DomainRecordConflict")

	r = c.call(VersionAlidns, "DeleteDomainRecord", "RecordId", id)
	expectOK(t, r)
	if r.str("RecordId") != id {
		t.Fatalf("delete answer: %s", r.Raw)
	}
	expectErr(t, c.call(VersionAlidns, "DeleteDomainRecord", "RecordId", id), 400, "DomainRecordNotBelongToUser")
	if st := e.sim.State(); len(st.Records) != 3 || len(st.Zones) != 3 {
		t.Fatalf("state: %+v", st.Records)
	}
}
