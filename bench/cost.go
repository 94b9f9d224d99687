package bench

import (
	"maps"
	"slices"
	"strings"
)

// roundCost is what the issuer did for one batch, per certificate.
type roundCost struct {
	calls          map[string]float64 // Alibaba Cloud calls by action (simulator)
	callsTotal     float64
	throttled      float64            // throttled answers (simulator)
	clientCalls    map[string]float64 // "Action/outcome" (issuer metrics)
	writes         float64            // POST+PUT+PATCH (issuer metrics)
	writesByMethod map[string]float64 // issuer metrics, every method
	writesBy       map[string]float64 // "METHOD resource code" (recorder)
	events         float64            // writes of Events (recorder)
	cpuMs          float64            // issuer CPU per certificate
}

// costOf is the difference between two snapshots, per certificate.
func costOf(before, after snapshot, n int) roundCost {
	per := func(v float64) float64 { return v / float64(n) }
	c := roundCost{
		calls:          map[string]float64{},
		clientCalls:    map[string]float64{},
		writesByMethod: map[string]float64{},
		writesBy:       map[string]float64{},
	}
	for action, v := range after.sim.Calls {
		if d := v - before.sim.Calls[action]; d != 0 {
			c.calls[action] = per(float64(d))
			c.callsTotal += per(float64(d))
		}
	}
	c.throttled = per(float64(after.sim.Throttled - before.sim.Throttled))
	m := after.metrics.Sub(before.metrics)
	for k, v := range m.Calls {
		c.clientCalls[k] = per(v)
	}
	for meth, v := range m.Requests {
		if meth != "GET" {
			c.writesByMethod[meth] = per(v)
		}
	}
	c.writes = per(m.Writes())
	for k, v := range after.writes {
		if d := v - before.writes[k]; d != 0 {
			c.writesBy[k] = per(float64(d))
			if f := strings.Fields(k); len(f) == 3 && f[0] != "DELETE" && f[1] == "events" {
				c.events += per(float64(d))
			}
		}
	}
	c.cpuMs = per(float64((after.proc.CPU - before.proc.CPU).Milliseconds()))
	return c
}

// CostStats is the per-certificate cost of several rounds.
type CostStats struct {
	CallsPerCert     Stat            `json:"callsPerCert"`
	CallsByAction    map[string]Stat `json:"callsByAction"`
	ThrottledPerCert Stat            `json:"throttledPerCert"`
	// ClientCalls is the issuer's own count, by "Action/outcome".
	ClientCalls map[string]Stat `json:"issuerCallsByActionOutcome"`
	// WritesPerCert counts POST, PUT and PATCH requests of the issuer
	// process to the API server (rest_client_requests_total).
	WritesPerCert  Stat            `json:"writesPerCert"`
	WritesByMethod map[string]Stat `json:"requestsByMethod"`
	// WritesByRequest is "METHOD resource[/subresource] HTTP-code".
	WritesByRequest map[string]Stat `json:"writesByRequest"`
	// EventsPerCert is how many of the writes are Events.
	EventsPerCert Stat `json:"eventWritesPerCert"`
	CPUMsPerCert  Stat `json:"issuerCPUMsPerCert"`
}

func summarizeCosts(rounds []roundCost) CostStats {
	pick := func(f func(roundCost) float64) Stat {
		var v []float64
		for _, r := range rounds {
			v = append(v, f(r))
		}
		return statOf(v...).rounded()
	}
	byKey := func(f func(roundCost) map[string]float64) map[string]Stat {
		keys := map[string]bool{}
		for _, r := range rounds {
			for k := range f(r) {
				keys[k] = true
			}
		}
		out := map[string]Stat{}
		for _, k := range slices.Sorted(maps.Keys(keys)) {
			out[k] = pick(func(r roundCost) float64 { return f(r)[k] })
		}
		return out
	}
	return CostStats{
		CallsPerCert:     pick(func(r roundCost) float64 { return r.callsTotal }),
		CallsByAction:    byKey(func(r roundCost) map[string]float64 { return r.calls }),
		ThrottledPerCert: pick(func(r roundCost) float64 { return r.throttled }),
		ClientCalls:      byKey(func(r roundCost) map[string]float64 { return r.clientCalls }),
		WritesPerCert:    pick(func(r roundCost) float64 { return r.writes }),
		WritesByMethod:   byKey(func(r roundCost) map[string]float64 { return r.writesByMethod }),
		WritesByRequest:  byKey(func(r roundCost) map[string]float64 { return r.writesBy }),
		EventsPerCert:    pick(func(r roundCost) float64 { return r.events }),
		CPUMsPerCert:     pick(func(r roundCost) float64 { return r.cpuMs }),
	}
}

// breakdown renders a map of Stats by median, largest first: "A 1, B 0.5".
func breakdown(m map[string]Stat, skipZero bool) string {
	keys := slices.Collect(maps.Keys(m))
	slices.SortFunc(keys, func(a, b string) int {
		if m[a].Median != m[b].Median {
			if m[a].Median > m[b].Median {
				return -1
			}
			return 1
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys {
		if skipZero && m[k].Median == 0 {
			continue
		}
		parts = append(parts, k+" "+fmtNum(m[k].Median))
	}
	if len(parts) == 0 {
		return "–"
	}
	return strings.Join(parts, ", ")
}
