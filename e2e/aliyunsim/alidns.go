package aliyunsim

import (
	"net"
	"sort"
	"strconv"
	"strings"

	"golang.org/x/net/publicsuffix"
)

// Alidns 2015-01-09: the account's DNS zones and their records. The DNS validation of CAS
// orders looks here, and the UDP DNS server answers from here.

var alidnsActions = map[string]action{
	"DescribeDomains":          {run: describeDomains},
	"AddDomainRecord":          {run: addDomainRecord},
	"UpdateDomainRecord":       {run: updateDomainRecord},
	"DeleteDomainRecord":       {run: deleteDomainRecord},
	"DescribeDomainRecords":    {run: describeDomainRecords},
	"DescribeSubDomainRecords": {run: describeSubDomainRecords},
}

// maxRecordsPerZone is the record quota of a zone (the free edition's order of magnitude,
// unverified).
const maxRecordsPerZone = 10_000

// maxPageSize bounds PageSize in every Alidns listing (the API references give 1 to 100 for
// DescribeDomains, DescribeDomainRecords and DescribeSubDomainRecords alike).
const maxPageSize = 100

var recordTypes = map[string]bool{
	"A": true, "AAAA": true, "CNAME": true, "TXT": true, "MX": true, "NS": true, "SRV": true, "CAA": true,
}

// findZone resolves the DomainName parameter to one of the account's zones.
func (s *Simulator) findZone(name string) (*zone, *apiError) {
	name = strings.TrimSuffix(strings.ToLower(name), ".")
	if z, ok := s.st.zones[name]; ok {
		return z, nil
	}
	if s.st.foreign[name] {
		return nil, badRequest("IncorrectDomainUser", "The domain name %s does not belong to the current user.", name)
	}
	if checkHostname(name, false) != nil {
		return nil, badRequest("InvalidDomainName.Format", "The domain name %q is not well formed.", name)
	}
	return nil, badRequest("InvalidDomainName.NoExist", "The domain name %s does not exist in Alibaba Cloud DNS.", name)
}

// zoneOf finds the longest zone (own or foreign) that name falls in.
func (s *Simulator) zoneOf(name string) (z string, own bool) {
	for cand := name; cand != ""; {
		if _, ok := s.st.zones[cand]; ok {
			return cand, true
		}
		if s.st.foreign[cand] {
			return cand, false
		}
		_, rest, ok := strings.Cut(cand, ".")
		if !ok {
			break
		}
		cand = rest
	}
	return "", false
}

func describeDomains(s *Simulator, c *call) (obj, *apiError) {
	page, e := c.intParam("PageNumber", 1, 1, 1_000_000)
	if e != nil {
		return nil, e
	}
	size, e := c.intParam("PageSize", 20, 1, maxPageSize)
	if e != nil {
		return nil, e
	}
	kw := strings.ToLower(c.opt("KeyWord", ""))
	mode := strings.ToUpper(c.opt("SearchMode", "LIKE"))
	if mode != "LIKE" && mode != "EXACT" {
		return nil, errInvalidParam("SearchMode", "%q is neither LIKE nor EXACT", mode)
	}
	var names []string
	for name := range s.st.zones {
		if kw == "" || (mode == "EXACT" && name == kw) || (mode == "LIKE" && strings.Contains(name, kw)) {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	lo, hi := paginate(len(names), page, size)
	list := []obj{}
	for _, name := range names[lo:hi] {
		z := s.st.zones[name]
		n := 0
		for _, r := range s.st.records {
			if r.zone == name {
				n++
			}
		}
		list = append(list, obj{"DomainId": z.id, "DomainName": name, "RecordCount": n, "AliDomain": false, "VersionCode": "mianfei"})
	}
	return obj{"TotalCount": len(names), "PageNumber": page, "PageSize": size, "Domains": obj{"Domain": list}}, nil
}

// recordInput reads and checks RR, Type, Value, TTL, Line, Priority.
func recordInput(c *call) (*record, *apiError) {
	rr, e := c.req("RR")
	if e != nil {
		return nil, e
	}
	typ, e := c.req("Type")
	if e != nil {
		return nil, e
	}
	value, e := c.req("Value")
	if e != nil {
		return nil, e
	}
	ttl, e := c.intParam("TTL", 600, 1, 86400)
	if e != nil {
		return nil, e
	}
	prio, e := c.intParam("Priority", 0, 0, 50)
	if e != nil {
		return nil, e
	}
	rr = strings.ToLower(rr)
	typ = strings.ToUpper(typ)
	if !recordTypes[typ] {
		return nil, badRequest("InvalidParameter.Type", "The record type %q is not supported.", typ)
	}
	if e := checkRR(rr); e != nil {
		return nil, e
	}
	switch typ {
	case "A":
		if ip := net.ParseIP(value); ip == nil || ip.To4() == nil {
			return nil, badRequest("InvalidParameter.Value", "The A record value %q is not an IPv4 address.", value)
		}
	case "AAAA":
		if ip := net.ParseIP(value); ip == nil || ip.To4() != nil {
			return nil, badRequest("InvalidParameter.Value", "The AAAA record value %q is not an IPv6 address.", value)
		}
	case "TXT":
		if len(value) > 512 {
			return nil, badRequest("InvalidParameter.Value", "The TXT record value is longer than 512 characters.")
		}
	}
	if typ == "MX" && prio == 0 {
		prio = 5
	}
	return &record{rr: rr, typ: typ, value: value, ttl: ttl, line: c.opt("Line", "default"), priority: prio}, nil
}

// checkRR accepts "@", "*", and dot-separated labels of letters, digits, '-' and '_' (for
// records such as _dnsauth), with an optional leading "*." label.
func checkRR(rr string) *apiError {
	if rr == "@" || rr == "*" {
		return nil
	}
	labels := strings.Split(strings.TrimPrefix(rr, "*."), ".")
	for _, l := range labels {
		ok := l != "" && len(l) <= 63
		for i := 0; ok && i < len(l); i++ {
			ch := l[i]
			ok = 'a' <= ch && ch <= 'z' || '0' <= ch && ch <= '9' || ch == '-' || ch == '_'
		}
		if !ok {
			return badRequest("InvalidParameter.RR", "The host record %q is not valid.", rr)
		}
	}
	return nil
}

// conflict applies Alidns's rules for a new or changed record r in its zone: an identical
// record is a duplicate (an update that changes nothing included); a CNAME cannot share its
// host with other records.
func (s *Simulator) conflict(r *record) *apiError {
	for _, o := range s.st.records {
		if o.zone != r.zone || o.rr != r.rr {
			continue
		}
		same := o.typ == r.typ && o.value == r.value && o.line == r.line
		if o.id == r.id {
			same = same && o.ttl == r.ttl && o.priority == r.priority
		}
		if same {
			return badRequest("DomainRecordDuplicate", "The DNS record already exists.")
		}
		if o.id != r.id && (o.typ == "CNAME" || r.typ == "CNAME") {
			return badRequest("DomainRecordConflict", "The DNS record conflicts with an existing %s record at %s.", o.typ, o.fqdn())
		}
	}
	return nil
}

func addDomainRecord(s *Simulator, c *call) (obj, *apiError) {
	dn, e := c.req("DomainName")
	if e != nil {
		return nil, e
	}
	r, e := recordInput(c)
	if e != nil {
		return nil, e
	}
	z, e := s.findZone(dn)
	if e != nil {
		return nil, e
	}
	r.zone = z.name
	if e := s.conflict(r); e != nil {
		return nil, e
	}
	n := 0
	for _, o := range s.st.records {
		if o.zone == z.name {
			n++
		}
	}
	if n >= maxRecordsPerZone {
		return nil, badRequest("QuotaExceeded.Record", "The zone %s already has %d records.", z.name, n)
	}
	s.st.nextRec++
	r.id = strconv.FormatInt(s.st.nextRec, 10)
	s.st.records[r.id] = r
	return obj{"RecordId": r.id}, nil
}

func (s *Simulator) findRecord(c *call) (*record, *apiError) {
	id, e := c.req("RecordId")
	if e != nil {
		return nil, e
	}
	r, ok := s.st.records[id]
	if !ok {
		return nil, badRequest("DomainRecordNotBelongToUser", "The DNS record %s does not exist or does not belong to the current user.", id)
	}
	return r, nil
}

func updateDomainRecord(s *Simulator, c *call) (obj, *apiError) {
	old, e := s.findRecord(c)
	if e != nil {
		return nil, e
	}
	r, e := recordInput(c)
	if e != nil {
		return nil, e
	}
	r.zone, r.id = old.zone, old.id
	if e := s.conflict(r); e != nil {
		return nil, e
	}
	s.st.records[r.id] = r
	return obj{"RecordId": r.id}, nil
}

func deleteDomainRecord(s *Simulator, c *call) (obj, *apiError) {
	r, e := s.findRecord(c)
	if e != nil {
		return nil, e
	}
	delete(s.st.records, r.id)
	return obj{"RecordId": r.id}, nil
}

func recordItem(r *record) obj {
	m := obj{
		"RecordId":   r.id,
		"DomainName": r.zone,
		"RR":         r.rr,
		"Type":       r.typ,
		"Value":      r.value,
		"TTL":        r.ttl,
		"Line":       r.line,
		"Status":     "ENABLE",
		"Locked":     false,
		"Weight":     1,
	}
	if r.typ == "MX" {
		m["Priority"] = r.priority
	}
	return m
}

// recordPage answers a records listing.
func recordPage(c *call, recs []*record) (obj, *apiError) {
	page, e := c.intParam("PageNumber", 1, 1, 1_000_000)
	if e != nil {
		return nil, e
	}
	size, e := c.intParam("PageSize", 20, 1, maxPageSize)
	if e != nil {
		return nil, e
	}
	lo, hi := paginate(len(recs), page, size)
	list := []obj{}
	for _, r := range recs[lo:hi] {
		list = append(list, recordItem(r))
	}
	return obj{"TotalCount": len(recs), "PageNumber": page, "PageSize": size, "DomainRecords": obj{"Record": list}}, nil
}

func describeDomainRecords(s *Simulator, c *call) (obj, *apiError) {
	dn, e := c.req("DomainName")
	if e != nil {
		return nil, e
	}
	z, e := s.findZone(dn)
	if e != nil {
		return nil, e
	}
	mode := strings.ToUpper(c.opt("SearchMode", "LIKE"))
	if mode != "LIKE" && mode != "EXACT" {
		return nil, errInvalidParam("SearchMode", "%q is neither LIKE nor EXACT", mode)
	}
	match := func(field, kw string) bool {
		if kw == "" {
			return true
		}
		if mode == "EXACT" {
			return strings.EqualFold(field, kw)
		}
		return strings.Contains(strings.ToLower(field), strings.ToLower(kw))
	}
	rrKW, typeKW, valueKW := c.opt("RRKeyWord", ""), c.opt("TypeKeyWord", ""), c.opt("ValueKeyWord", "")
	typ := strings.ToUpper(c.opt("Type", ""))
	var recs []*record
	for _, r := range s.st.sortedRecords() {
		if r.zone != z.name || (typ != "" && r.typ != typ) {
			continue
		}
		if match(r.rr, rrKW) && match(r.typ, typeKW) && match(r.value, valueKW) {
			recs = append(recs, r)
		}
	}
	return recordPage(c, recs)
}

// describeSubDomainRecords lists the records of one name. The zone is DomainName when given;
// without it, Alidns takes the registrable domain of SubDomain (the API reference: "默认为
// SubDomain 的主域名"), so a delegated sub-zone of the account such as dev.example.com is not
// searched unless DomainName names it. A default zone the account does not hold yields no
// records (unverified: Alidns may answer an error instead).
func describeSubDomainRecords(s *Simulator, c *call) (obj, *apiError) {
	sub, e := c.req("SubDomain")
	if e != nil {
		return nil, e
	}
	sub = strings.TrimSuffix(strings.ToLower(sub), ".")
	typ := strings.ToUpper(c.opt("Type", ""))
	zoneName := registrableDomain(sub)
	if dn := c.opt("DomainName", ""); dn != "" {
		z, e := s.findZone(dn)
		if e != nil {
			return nil, e
		}
		zoneName = z.name
	}
	if s.st.foreign[zoneName] {
		return nil, badRequest("IncorrectDomainUser", "The domain name %s does not belong to the current user.", zoneName)
	}
	_, own := s.st.zones[zoneName]
	own = own && (sub == zoneName || strings.HasSuffix(sub, "."+zoneName))
	var recs []*record
	if own {
		rr := "@"
		if sub != zoneName {
			rr = strings.TrimSuffix(sub, "."+zoneName)
		}
		for _, r := range s.st.sortedRecords() {
			if r.zone == zoneName && r.rr == rr && (typ == "" || r.typ == typ) {
				recs = append(recs, r)
			}
		}
	}
	return recordPage(c, recs)
}

// registrableDomain is name's public suffix plus one label (example.com for
// _dnsauth.www.example.com), or name itself when it has none.
func registrableDomain(name string) string {
	if d, err := publicsuffix.EffectiveTLDPlusOne(name); err == nil {
		return d
	}
	return name
}
