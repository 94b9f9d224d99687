package bench

import (
	"fmt"
	"slices"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// issuanceLags is, for every Certificate of a scenario B batch in namespace ns, the seconds
// from the simulator's issuance of its certificate (/_sim/state: an order's issued, an
// instance's issuedAt) to the Certificate becoming Ready, sorted. Certificates are matched by
// their one DNS name (issueBatch's "<name>.<ns>.<zone>"); the simulator and the tracker read
// the same clock.
func issuanceLags(st aliyunsim.State, ns string, ready map[string]time.Time) ([]float64, error) {
	issued := map[string]time.Time{}
	note := func(domain string, at time.Time) {
		if !at.IsZero() && at.After(issued[domain]) {
			issued[domain] = at
		}
	}
	for _, o := range st.Orders {
		if len(o.Domains) == 1 {
			note(o.Domains[0], o.Issued)
		}
	}
	for _, i := range st.Instances {
		note(i.Domain, i.IssuedAt)
	}
	var lags []float64
	for name, at := range ready {
		host := fmt.Sprintf("%s.%s.%s", name, ns, zone)
		t, ok := issued[host]
		if !ok {
			return nil, fmt.Errorf("the simulator shows no issuance for %s", host)
		}
		lags = append(lags, at.Sub(t).Seconds())
	}
	slices.Sort(lags)
	return lags, nil
}
