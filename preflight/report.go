package preflight

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
)

// Status is how one line of the report went.
type Status string

// Statuses. Only StatusFail stops issuing: it is set on the lines the chosen
// orderAPI needs, so a missing V1.0 package never fails an Instance check.
const (
	StatusOK   Status = "ok"
	StatusWarn Status = "warn"
	StatusFail Status = "fail"
	StatusSkip Status = "skip"
)

// Line is one check.
type Line struct {
	// Check names the kind of check: signature, clock, ram, package,
	// instances, instance, legacy-api, alidns-zone, recommendation.
	Check string `json:"check"`
	// Item is what was checked: a RAM action (yundun-cert:ApplyCertificate),
	// a product code, an instance id, a domain name.
	Item   string `json:"item,omitempty"`
	Status Status `json:"status"`
	// Result is the short answer: allowed, denied, "3 of 20 left", ...
	Result string `json:"result"`
	// Detail says why, or what to do.
	Detail string `json:"detail,omitempty"`
}

// Report is everything the preflight found.
type Report struct {
	Endpoint string `json:"endpoint"`
	// Credentials says where the credentials came from (the AccessKey id
	// redacted, the secret never).
	Credentials string `json:"credentials"`
	// OrderAPI is the orderAPI checked: the one asked for, else the
	// recommended one.
	OrderAPI string `json:"orderAPI"`
	// RecommendedOrderAPI is what this account should use ("" when none
	// can issue).
	RecommendedOrderAPI string `json:"recommendedOrderAPI"`
	// CanIssue is false when a line failed: issuing with OrderAPI cannot work.
	CanIssue bool   `json:"canIssue"`
	Lines    []Line `json:"checks"`
}

func (r *Report) add(l Line) { r.Lines = append(r.Lines, l) }

// lineOrder is the order of the report: access first, then permissions, what the account
// holds, DNS, and the verdict.
var lineOrder = map[string]int{
	"signature": 0, "clock": 1, "ram": 2, "instances": 3, "instance": 4,
	"package": 5, "legacy-api": 6, "alidns-zone": 7, "recommendation": 8,
}

// finish orders the lines and sets CanIssue from them.
func (r *Report) finish() {
	sort.SliceStable(r.Lines, func(i, j int) bool { return lineOrder[r.Lines[i].Check] < lineOrder[r.Lines[j].Check] })
	r.CanIssue = true
	for _, l := range r.Lines {
		if l.Status == StatusFail {
			r.CanIssue = false
		}
	}
}

// WriteJSON writes the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// WriteTable writes the report as an aligned table and a verdict.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "endpoint %s, credentials %s\n\n", r.Endpoint, r.Credentials)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "CHECK\tITEM\tSTATUS\tRESULT")
	for _, l := range r.Lines {
		res := l.Result
		if l.Detail != "" {
			res += ": " + l.Detail
		}
		item := l.Item
		if item == "" {
			item = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", l.Check, item, strings.ToUpper(string(l.Status)), res)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if r.CanIssue {
		_, err := fmt.Fprintf(w, "\nissuing can work with orderAPI %s\n", r.OrderAPI)
		return err
	}
	_, err := fmt.Fprintf(w, "\nissuing cannot work with orderAPI %s: fix the FAIL lines\n", orNone(r.OrderAPI))
	return err
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
