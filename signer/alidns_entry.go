package signer

import (
	"net/url"
	"strings"
	"time"
)

// validationEntry is one item of OrderState.ValidationRecords written by
// the Alidns provider: "alidns:" followed by a URL-encoded id, zone, name,
// type, value and creation time. Without an id it is an intent: a record
// may have been created and is looked up by name and value.
type validationEntry struct {
	ID, Zone, Name, Type, Value string
	Created                     time.Time
}

const entryPrefix = "alidns:"

func (e validationEntry) String() string {
	v := url.Values{}
	if e.ID != "" {
		v.Set("id", e.ID)
	}
	v.Set("zone", e.Zone)
	v.Set("name", e.Name)
	v.Set("type", e.Type)
	v.Set("value", e.Value)
	if !e.Created.IsZero() {
		v.Set("at", e.Created.UTC().Format(time.RFC3339))
	}
	return entryPrefix + v.Encode()
}

func parseEntry(s string) (validationEntry, bool) {
	rest, ok := strings.CutPrefix(s, entryPrefix)
	if !ok {
		return validationEntry{}, false
	}
	v, err := url.ParseQuery(rest)
	if err != nil {
		return validationEntry{}, false
	}
	e := validationEntry{ID: v.Get("id"), Zone: v.Get("zone"), Name: v.Get("name"), Type: v.Get("type"), Value: v.Get("value")}
	if t, err := time.Parse(time.RFC3339, v.Get("at")); err == nil {
		e.Created = t
	}
	return e, true
}

func (e validationEntry) same(name, typ, value string) bool {
	return strings.EqualFold(e.Name, name) && strings.EqualFold(e.Type, typ) && e.Value == value
}
