package aliyun

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// FlexString decodes a JSON string, number or null into a string: Alibaba
// Cloud answers ids as numbers in some versions and strings in others.
type FlexString string

func (f *FlexString) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || string(b) == "null" {
		*f = ""
		return nil
	}
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*f = FlexString(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return err
	}
	*f = FlexString(n.String())
	return nil
}

func (f FlexString) String() string { return string(f) }

// FlexInt decodes a JSON number or numeric string (or null) into an int64.
type FlexInt int64

func (f *FlexInt) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	if s == "" {
		*f = 0
		return nil
	}
	n, err := strconv.ParseInt(string(s), 10, 64)
	if err != nil {
		fl, ferr := strconv.ParseFloat(string(s), 64)
		if ferr != nil {
			return err
		}
		n = int64(fl)
	}
	*f = FlexInt(n)
	return nil
}

// FlexBool decodes true/false, "true"/"false" or 0/1.
type FlexBool bool

func (f *FlexBool) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		var v bool
		if jerr := json.Unmarshal(b, &v); jerr != nil {
			return err
		}
		*f = FlexBool(v)
		return nil
	}
	switch strings.ToLower(string(s)) {
	case "true", "1", "yes":
		*f = true
	default:
		*f = false
	}
	return nil
}

// Timestamp decodes the time shapes Alibaba Cloud uses: milliseconds (or
// seconds) since the epoch as a number or string, RFC 3339, or
// "2006-01-02 15:04:05" (taken as UTC+8, the console's zone, when no zone is
// given).
type Timestamp struct{ time.Time }

var chinaZone = time.FixedZone("CST", 8*3600)

func (t *Timestamp) UnmarshalJSON(b []byte) error {
	var s FlexString
	if err := s.UnmarshalJSON(b); err != nil {
		return err
	}
	t.Time = parseTime(string(s))
	return nil
}

func parseTime(s string) time.Time {
	s = strings.TrimSpace(s)
	if s == "" || s == "0" {
		return time.Time{}
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		if n > 1e11 { // milliseconds
			return time.UnixMilli(n).UTC()
		}
		return time.Unix(n, 0).UTC()
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05Z0700", "2006-01-02T15:04Z"} {
		if v, err := time.Parse(layout, s); err == nil {
			return v.UTC()
		}
	}
	for _, layout := range []string{"2006-01-02 15:04:05", "2006-01-02T15:04:05", "2006-01-02"} {
		if v, err := time.ParseInLocation(layout, s, chinaZone); err == nil {
			return v.UTC()
		}
	}
	return time.Time{}
}
