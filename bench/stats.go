package bench

import (
	"math"
	"slices"
)

// Stat is a figure measured over several rounds.
type Stat struct {
	Min    float64   `json:"min"`
	Median float64   `json:"median"`
	Max    float64   `json:"max"`
	Values []float64 `json:"values"`
}

// statOf summarises the values of the rounds.
func statOf(vals ...float64) Stat {
	if len(vals) == 0 {
		return Stat{}
	}
	s := slices.Clone(vals)
	slices.Sort(s)
	return Stat{Min: s[0], Median: median(s), Max: s[len(s)-1], Values: slices.Clone(vals)}
}

// median of sorted values (the mean of the middle two for an even count).
func median(sorted []float64) float64 {
	n := len(sorted)
	switch {
	case n == 0:
		return math.NaN()
	case n%2 == 1:
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// percentile is the nearest-rank percentile (0 < p <= 100) of sorted values.
func percentile(sorted []float64, p float64) float64 {
	n := len(sorted)
	if n == 0 {
		return math.NaN()
	}
	rank := int(math.Ceil(p / 100 * float64(n)))
	return sorted[min(max(rank, 1), n)-1]
}

// round3 keeps three decimals, for readable JSON (which has no NaN or
// infinity: those become 0).
func round3(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return math.Round(v*1000) / 1000
}

func (s Stat) rounded() Stat {
	out := Stat{Min: round3(s.Min), Median: round3(s.Median), Max: round3(s.Max)}
	for _, v := range s.Values {
		out.Values = append(out.Values, round3(v))
	}
	return out
}
