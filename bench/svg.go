package bench

import (
	"fmt"
	"math"
	"slices"
	"strings"
)

// latencySVG plots the cumulative distribution of created → Ready for both
// issuers, one line per round.
func latencySVG(a *Throughput) []byte {
	const (
		w, h                   = 760, 440
		left, right, top, bott = 64, 24, 48, 56
		pw, ph                 = w - left - right, h - top - bott
	)
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p(`<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" viewBox="0 0 %d %d" font-family="sans-serif" font-size="12">`+"\n", w, h, w, h)
	p(`<rect width="100%%" height="100%%" fill="white"/>` + "\n")
	if a == nil {
		p("</svg>\n")
		return []byte(b.String())
	}
	maxX := 0.0
	for _, t := range []*IssuerThroughput{a.Aliyun, a.Instance, a.CA} {
		if t == nil {
			continue
		}
		for _, l := range t.Latencies {
			if len(l) > 0 {
				maxX = math.Max(maxX, l[len(l)-1])
			}
		}
	}
	step := niceStep(maxX / 6)
	maxX = math.Max(step, math.Ceil(maxX/step)*step)
	x := func(v float64) float64 { return left + v/maxX*pw }
	y := func(f float64) float64 { return top + (1-f)*ph }

	p(`<text x="%d" y="24" font-size="15" font-weight="bold">Time to Ready, %d Certificates created at once (up to %d rounds each)</text>`+"\n", left, a.N, a.Rounds)
	// Grid and axes.
	for f := 0.0; f <= 1.0001; f += 0.25 {
		p(`<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#ddd"/>`+"\n", left, y(f), left+pw, y(f))
		p(`<text x="%d" y="%.1f" text-anchor="end" dominant-baseline="middle">%.0f%%</text>`+"\n", left-6, y(f), f*100)
	}
	for v := 0.0; v <= maxX+step/2; v += step {
		p(`<line x1="%.1f" y1="%d" x2="%.1f" y2="%d" stroke="#ddd"/>`+"\n", x(v), top, x(v), top+ph)
		p(`<text x="%.1f" y="%d" text-anchor="middle">%s</text>`+"\n", x(v), top+ph+18, fmtNum(v))
	}
	p(`<rect x="%d" y="%d" width="%d" height="%d" fill="none" stroke="#333"/>`+"\n", left, top, pw, ph)
	p(`<text x="%d" y="%d" text-anchor="middle">seconds</text>`+"\n", left+pw/2, h-14)
	p(`<text x="16" y="%d" text-anchor="middle" transform="rotate(-90 16 %d)">Certificates Ready</text>`+"\n", top+ph/2, top+ph/2)

	type line struct {
		label, color string
		t            *IssuerThroughput
	}
	series := []line{
		{"aliyun-cas-issuer, CSR (simulator)", "#d9480f", a.Aliyun},
		{"aliyun-cas-issuer, Instance (simulator)", "#2f9e44", a.Instance},
		{"cert-manager CA issuer", "#1c7ed6", a.CA},
	}
	series = slices.DeleteFunc(series, func(s line) bool { return s.t == nil || len(s.t.Latencies) == 0 })
	for i, s := range series {
		for _, l := range s.t.Latencies {
			n := float64(len(l))
			var pts []string
			pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(0), y(0)))
			for j, v := range l {
				pts = append(pts, fmt.Sprintf("%.1f,%.1f", x(v), y(float64(j)/n)), fmt.Sprintf("%.1f,%.1f", x(v), y(float64(j+1)/n)))
			}
			p(`<polyline fill="none" stroke="%s" stroke-width="1.5" stroke-opacity="0.8" points="%s"/>`+"\n", s.color, strings.Join(pts, " "))
		}
		// The legend sits bottom right, where a CDF has no line.
		ly := top + ph - 16 - (len(series)-1-i)*18
		p(`<line x1="%d" y1="%d" x2="%d" y2="%d" stroke="%s" stroke-width="3"/>`+"\n", left+pw-330, ly, left+pw-306, ly, s.color)
		p(`<text x="%d" y="%d" dominant-baseline="middle">%s, p50 %ss</text>`+"\n", left+pw-300, ly, s.label, fmtNum(s.t.P50.Median))
	}
	p("</svg>\n")
	return []byte(b.String())
}

// niceStep rounds a tick step up to 1, 2 or 5 times a power of ten.
func niceStep(raw float64) float64 {
	if raw <= 0 || math.IsNaN(raw) {
		return 1
	}
	pow := math.Pow(10, math.Floor(math.Log10(raw)))
	for _, m := range []float64{1, 2, 5, 10} {
		if raw <= m*pow {
			return m * pow
		}
	}
	return 10 * pow
}
