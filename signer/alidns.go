package signer

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// DNS validation providers.
const (
	// DNSProviderManual tells a person which record to create, and waits.
	DNSProviderManual = "manual"
	// DNSProviderAlidns creates and removes the record in Alibaba Cloud DNS.
	DNSProviderAlidns = "alidns"
)

// Reasons of automatic DNS validation.
const (
	// ReasonDNSZoneNotFound: no Alidns zone of the account covers a name.
	ReasonDNSZoneNotFound = "DNSZoneNotFound"
	// ReasonDNSRecordConflict: a record that cannot coexist with the
	// validation record (e.g. a CNAME) holds its name.
	ReasonDNSRecordConflict = "DNSRecordConflict"
	// ReasonDNSPropagation: the record exists in Alidns but the name
	// servers do not answer with it yet.
	ReasonDNSPropagation = "DNSPropagation"
	// ReasonDNSRecordMaybeCreated: the answer to AddDomainRecord was lost;
	// the record is looked up before it is created again.
	ReasonDNSRecordMaybeCreated = "DNSRecordMaybeCreated"
)

const (
	// propagationRetry is how soon to look again while the record is not
	// visible at the name servers.
	propagationRetry = 10 * time.Second
	// zoneCacheTTL bounds how long the list of zones is reused.
	zoneCacheTTL    = time.Minute
	domainsPageSize = 100
	maxDomainPages  = 50
)

// DNSConfig configures who makes the DNS validation records exist.
type DNSConfig struct {
	// Provider is DNSProviderManual (default) or DNSProviderAlidns.
	Provider string
	// Endpoint is the Alidns URL (default DefaultDNSEndpoint).
	Endpoint string
	// Credentials for Alidns; nil means the issuer's own.
	Credentials *Credentials
	// Zone, when set, is the Alidns zone all records go to; otherwise the
	// longest zone of the account that is a suffix of the record name.
	Zone string
	// TTL of the records, seconds (default DefaultDNSTTL).
	TTL int
	// SkipPropagationCheck turns off querying the name servers.
	SkipPropagationCheck bool
	// Nameservers are queried for the record ("host" or "host:port");
	// empty means the zone's authoritative name servers (NS records).
	Nameservers []string
	// PropagationTimeout bounds how long the check waits for the record to
	// be visible before it stops waiting (default
	// DefaultPropagationTimeout).
	PropagationTimeout time.Duration
}

// alidnsProvider creates, finds and removes validation records in Alidns.
// Both order flows use it through checkNames, present and cleanUp. It only
// ever deletes records whose ids it recorded in OrderState.
type alidnsProvider struct {
	cfg    DNSConfig
	client *aliyun.Client
	now    func() time.Time
	prop   *propagationChecker

	mu      sync.Mutex
	zones   []string
	zonesAt time.Time
}

func newAlidnsProvider(cfg DNSConfig, client *aliyun.Client) *alidnsProvider {
	cfg.Zone = normalizeName(cfg.Zone)
	p := &alidnsProvider{cfg: cfg, client: client, now: time.Now}
	if !cfg.SkipPropagationCheck {
		p.prop = newPropagationChecker(cfg.Nameservers)
	}
	return p
}

func normalizeName(n string) string {
	return strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
}

// validationRecordName is the DNS validation record of a certificate name:
// _dnsauth.<name>, on the base domain for a wildcard.
func validationRecordName(name string) string {
	return "_dnsauth." + strings.TrimPrefix(normalizeName(name), "*.")
}

// checkNames makes sure, before anything is ordered, that every name can be
// validated: some zone of the account covers its validation record.
func (p *alidnsProvider) checkNames(ctx context.Context, names []string) error {
	var missing []string
	for _, n := range names {
		if _, err := p.zoneFor(ctx, validationRecordName(n)); err != nil {
			if pe, ok := AsPermanent(err); ok && pe.Reason == ReasonDNSZoneNotFound {
				missing = append(missing, strings.TrimPrefix(normalizeName(n), "*."))
				continue
			}
			return err
		}
	}
	if len(missing) > 0 {
		return Permanent(ReasonDNSZoneNotFound, "no Alidns zone of this account covers %s; nothing was ordered", strings.Join(missing, ", "))
	}
	return nil
}

// zoneFor finds the zone of a record name: the configured zone, or the
// longest zone of the account that is a suffix of the name.
func (p *alidnsProvider) zoneFor(ctx context.Context, name string) (string, error) {
	name = normalizeName(name)
	if p.cfg.Zone != "" {
		if name == p.cfg.Zone || strings.HasSuffix(name, "."+p.cfg.Zone) {
			return p.cfg.Zone, nil
		}
		return "", Permanent(ReasonDNSZoneNotFound, "the Alidns zone %s configured on the issuer does not cover %s", p.cfg.Zone, name)
	}
	zones, err := p.listZones(ctx)
	if err != nil {
		return "", err
	}
	best := ""
	for _, z := range zones {
		if (name == z || strings.HasSuffix(name, "."+z)) && len(z) > len(best) {
			best = z
		}
	}
	if best == "" {
		return "", Permanent(ReasonDNSZoneNotFound, "no Alidns zone of this account covers %s", strings.TrimPrefix(name, "_dnsauth."))
	}
	return best, nil
}

// listZones lists the account's zones, reusing a recent list.
func (p *alidnsProvider) listZones(ctx context.Context) ([]string, error) {
	p.mu.Lock()
	if p.zones != nil && p.now().Sub(p.zonesAt) < zoneCacheTTL {
		z := p.zones
		p.mu.Unlock()
		return z, nil
	}
	p.mu.Unlock()
	var zones []string
	for page := 1; page <= maxDomainPages; page++ {
		l, err := p.client.DescribeDomains(ctx, "", page, domainsPageSize)
		if err != nil {
			return nil, withContext(err, "listing the Alidns zones of the account")
		}
		for _, d := range l.Domains.Domain {
			if n := normalizeName(d.DomainName); n != "" {
				zones = append(zones, n)
			}
		}
		if len(l.Domains.Domain) == 0 || page*domainsPageSize >= int(l.TotalCount) {
			break
		}
	}
	sort.Strings(zones)
	if zones == nil {
		zones = []string{}
	}
	p.mu.Lock()
	p.zones, p.zonesAt = zones, p.now()
	p.mu.Unlock()
	return zones, nil
}

// presentResult is what present did, for the pending message.
type presentResult struct {
	// Message describes the record and what is awaited.
	Message string
	// Reason is ReasonDNSPropagation while the record is not visible yet,
	// else empty.
	Reason string
	// RetryAfter, when set, is how soon to look again.
	RetryAfter time.Duration
}

// present makes the DNS record of v exist in Alidns. The intent is saved
// before AddDomainRecord and the record id right after, so that a crash in
// between is recovered by looking the record up by name and value. A
// record with the same name, type and value that the issuer did not create
// is used as it is and never deleted.
func (p *alidnsProvider) present(ctx context.Context, v *Validation, st OrderState, store StateStore) (OrderState, presentResult, error) {
	name, typ, value := normalizeName(v.RecordName), strings.ToUpper(v.RecordType), v.RecordValue
	if typ == "" {
		typ = "TXT"
	}
	var created, intent *validationEntry
	for _, s := range st.ValidationRecords {
		if e, ok := parseEntry(s); ok && e.same(name, typ, value) {
			if e.ID != "" {
				created = &e
			} else {
				intent = &e
			}
		}
	}
	foreign := false
	if created == nil {
		var err error
		st, created, foreign, err = p.create(ctx, name, typ, value, intent, st, store)
		if err != nil {
			return st, presentResult{}, err
		}
	}
	var msg string
	var zone string
	var since time.Time
	if foreign {
		zone, _ = p.zoneFor(ctx, name)
		msg = fmt.Sprintf("DNS %s record %s already exists in Alidns zone %s (not created by the issuer, left in place); waiting for CAS to validate", typ, name, zone)
	} else {
		zone, since = created.Zone, created.Created
		msg = fmt.Sprintf("created DNS %s record %s in Alidns zone %s; waiting for CAS to validate", typ, name, zone)
	}
	res := presentResult{Message: msg}
	if p.prop == nil || typ != "TXT" {
		return st, res, nil
	}
	seen := p.prop.check(ctx, zone, name, value)
	switch {
	case seen.visible:
		res.Message += fmt.Sprintf(" (%s)", seen.summary)
	case !since.IsZero() && p.now().Sub(since) > p.cfg.PropagationTimeout:
		res.Message += fmt.Sprintf(" (not visible at the name servers after %s: %s)", p.cfg.PropagationTimeout, seen.summary)
	default:
		res.Reason = ReasonDNSPropagation
		res.RetryAfter = propagationRetry
		res.Message = strings.Replace(res.Message, "waiting for CAS to validate", "waiting for it to be visible at the name servers", 1) +
			fmt.Sprintf(" (%s)", seen.summary)
	}
	return st, res, nil
}

// create adds the record, recording intent first; intent, when set, is the
// intent a previous attempt left (a record may exist). It reports foreign
// when an identical record exists that the issuer did not create.
func (p *alidnsProvider) create(ctx context.Context, name, typ, value string, intent *validationEntry, st OrderState, store StateStore) (OrderState, *validationEntry, bool, error) {
	if intent != nil {
		// A create may have happened without us seeing its id.
		id, err := p.lookup(ctx, intent.Zone, name, typ, value)
		if err != nil {
			return st, nil, false, err
		}
		if id != "" {
			return p.adopt(ctx, *intent, id, st, store)
		}
	}
	zone, err := p.zoneFor(ctx, name)
	if err != nil {
		return st, nil, false, err
	}
	e := validationEntry{Zone: zone, Name: name, Type: typ, Value: value, Created: p.now().UTC()}
	if intent == nil {
		st.ValidationRecords = append(slices.Clone(st.ValidationRecords), e.String())
		if err := store.Save(ctx, st); err != nil {
			return st, nil, false, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording the intent to create DNS record %s: %w", name, err))
		}
	} else {
		e = *intent
		e.Zone = zone
	}
	rr := "@"
	if name != zone {
		rr = strings.TrimSuffix(name, "."+zone)
	}
	id, err := p.client.AddDomainRecord(ctx, aliyun.NewRecord{DomainName: zone, RR: rr, Type: typ, Value: value, TTL: p.cfg.TTL})
	if err != nil {
		ae, _ := aliyun.AsError(err)
		switch {
		case aliyun.IsCode(err, "DomainRecordDuplicate"):
			if intent != nil {
				// Ours, from the attempt whose answer was lost.
				id, lerr := p.lookup(ctx, zone, name, typ, value)
				if lerr != nil {
					return st, nil, false, lerr
				}
				if id != "" {
					return p.adopt(ctx, e, id, st, store)
				}
			}
			st = p.dropEntry(ctx, st, e, store)
			return st, nil, true, nil
		case ae != nil && ae.OutcomeUnknown:
			// The intent stays: the next attempt looks the record up.
			return st, nil, false, Transient(ReasonDNSRecordMaybeCreated, 0,
				fmt.Errorf("the answer to creating DNS record %s was lost (%v); it is looked up before creating it again", name, err))
		}
		st = p.dropEntry(ctx, st, e, store)
		switch {
		case aliyun.IsCode(err, "DomainRecordConflict"):
			return st, nil, false, Permanent(ReasonDNSRecordConflict, "cannot create DNS %s record %s in Alidns zone %s: a conflicting record exists (%v); remove it or validate by hand", typ, name, zone, err)
		case aliyun.IsCode(err, "IncorrectDomainUser", "InvalidDomainName"):
			return st, nil, false, Permanent(ReasonDNSZoneNotFound, "no Alidns zone of this account covers %s (%v)", strings.TrimPrefix(name, "_dnsauth."), err)
		}
		return st, nil, false, withContext(err, "creating DNS %s record %s in Alidns zone %s", typ, name, zone)
	}
	return p.adopt(ctx, e, id, st, store)
}

// adopt records the id of a record the issuer created.
func (p *alidnsProvider) adopt(ctx context.Context, e validationEntry, id string, st OrderState, store StateStore) (OrderState, *validationEntry, bool, error) {
	e.ID = id
	recs := slices.Clone(st.ValidationRecords)
	replaced := false
	for i, s := range recs {
		if x, ok := parseEntry(s); ok && x.ID == "" && x.same(e.Name, e.Type, e.Value) {
			recs[i] = e.String()
			replaced = true
			break
		}
	}
	if !replaced {
		recs = append(recs, e.String())
	}
	st.ValidationRecords = recs
	if err := store.Save(ctx, st); err != nil {
		// The intent is still saved: the next attempt finds the record.
		return st, nil, false, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording DNS record %s (id %s): %w", e.Name, id, err))
	}
	return st, &e, false, nil
}

// dropEntry forgets an intent that certainly created nothing (best effort:
// a leftover intent only costs one lookup later).
func (p *alidnsProvider) dropEntry(ctx context.Context, st OrderState, e validationEntry, store StateStore) OrderState {
	var recs []string
	for _, s := range st.ValidationRecords {
		if x, ok := parseEntry(s); ok && x.ID == "" && x.same(e.Name, e.Type, e.Value) {
			continue
		}
		recs = append(recs, s)
	}
	st.ValidationRecords = recs
	_ = store.Save(ctx, st)
	return st
}

// lookup finds the id of the record with this name, type and value in
// zone (found again when the intent did not record it).
func (p *alidnsProvider) lookup(ctx context.Context, zone, name, typ, value string) (string, error) {
	if zone == "" {
		z, err := p.zoneFor(ctx, name)
		if err != nil {
			return "", err
		}
		zone = z
	}
	l, err := p.client.DescribeSubDomainRecords(ctx, zone, name, typ)
	if err != nil {
		if aliyun.IsCode(err, "IncorrectDomainUser", "InvalidDomainName") {
			return "", nil
		}
		return "", withContext(err, "looking up DNS record %s", name)
	}
	for _, r := range l.DomainRecords.Record {
		if strings.EqualFold(r.Type, typ) && sameRecordValue(typ, r.Value, value) {
			return string(r.RecordID), nil
		}
	}
	return "", nil
}

// sameRecordValue compares record values; a CNAME target is a name, so
// case and a final dot do not matter.
func sameRecordValue(typ, a, b string) bool {
	if strings.EqualFold(typ, "CNAME") {
		return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
	}
	return a == b
}

// cleanUp deletes the records the issuer created for this request (and
// those an intent may have created), and returns the state without them.
// Entries it does not own are kept. A record already gone is success.
// The caller persists the returned state.
func (p *alidnsProvider) cleanUp(ctx context.Context, st OrderState) (OrderState, []string, error) {
	var keep, removed []string
	var firstErr error
	for _, s := range st.ValidationRecords {
		e, ok := parseEntry(s)
		if !ok {
			keep = append(keep, s)
			continue
		}
		id := e.ID
		if id == "" {
			var err error
			if id, err = p.lookup(ctx, e.Zone, e.Name, e.Type, e.Value); err != nil {
				keep = append(keep, s)
				firstErr = cmpErr(firstErr, err)
				continue
			}
			if id == "" {
				continue // never created
			}
		}
		if err := p.client.DeleteDomainRecord(ctx, id); err != nil {
			if cerr := ignorePermanent(withContext(err, "deleting DNS record %s (id %s)", e.Name, id)); cerr != nil {
				keep = append(keep, s)
				firstErr = cmpErr(firstErr, cerr)
				continue
			}
		}
		removed = append(removed, fmt.Sprintf("DNS %s record %s (id %s)", e.Type, e.Name, id))
	}
	st.ValidationRecords = keep
	return st, removed, firstErr
}

func cmpErr(first, err error) error {
	if first != nil {
		return first
	}
	return err
}
