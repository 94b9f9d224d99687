package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// IssuerMetrics is what the issuer's /metrics endpoint says at one moment.
type IssuerMetrics struct {
	// Requests counts requests to the API server by HTTP method
	// (rest_client_requests_total, summed over codes and hosts).
	Requests map[string]float64
	// Calls counts calls to Alibaba Cloud by action and outcome
	// (aliyun_cas_issuer_api_calls_total): key "Action/outcome".
	Calls map[string]float64
}

// writeMethods are the API-server requests that change something.
var writeMethods = []string{"POST", "PUT", "PATCH"}

// Writes is the number of create, update and patch requests.
func (m IssuerMetrics) Writes() float64 {
	var n float64
	for _, meth := range writeMethods {
		n += m.Requests[meth]
	}
	return n
}

// Sub is m minus an earlier sample.
func (m IssuerMetrics) Sub(before IssuerMetrics) IssuerMetrics {
	return IssuerMetrics{Requests: subMap(m.Requests, before.Requests), Calls: subMap(m.Calls, before.Calls)}
}

func subMap(a, b map[string]float64) map[string]float64 {
	out := map[string]float64{}
	for k, v := range a {
		if d := v - b[k]; d != 0 {
			out[k] = d
		}
	}
	return out
}

// scrapeIssuer reads the issuer's /metrics.
func scrapeIssuer(ctx context.Context, addr string) (IssuerMetrics, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/metrics", nil)
	if err != nil {
		return IssuerMetrics{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return IssuerMetrics{}, fmt.Errorf("scraping the issuer's metrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return IssuerMetrics{}, fmt.Errorf("scraping the issuer's metrics: HTTP %d", resp.StatusCode)
	}
	samples, err := parseMetrics(resp.Body)
	if err != nil {
		return IssuerMetrics{}, err
	}
	m := IssuerMetrics{Requests: map[string]float64{}, Calls: map[string]float64{}}
	for _, s := range samples {
		switch s.Name {
		case "rest_client_requests_total":
			m.Requests[s.Labels["method"]] += s.Value
		case "aliyun_cas_issuer_api_calls_total":
			m.Calls[s.Labels["action"]+"/"+s.Labels["outcome"]] += s.Value
		}
	}
	return m, nil
}

// Sample is one line of the Prometheus text format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// parseMetrics reads the Prometheus text exposition format (comments and
// timestamps are skipped).
func parseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("metrics line %q: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return s, fmt.Errorf("no value")
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		line = line[1:]
		for {
			line = strings.TrimLeft(line, " ,")
			if strings.HasPrefix(line, "}") {
				line = line[1:]
				break
			}
			eq := strings.Index(line, "=\"")
			if eq < 0 {
				return s, fmt.Errorf("bad labels")
			}
			name := line[:eq]
			line = line[eq+2:]
			var val strings.Builder
			closed := false
			for j := 0; j < len(line); j++ {
				c := line[j]
				if c == '\\' && j+1 < len(line) {
					j++
					switch line[j] {
					case 'n':
						val.WriteByte('\n')
					default:
						val.WriteByte(line[j])
					}
					continue
				}
				if c == '"' {
					line = line[j+1:]
					closed = true
					break
				}
				val.WriteByte(c)
			}
			if !closed {
				return s, fmt.Errorf("unterminated label value")
			}
			s.Labels[name] = val.String()
		}
	}
	f := strings.Fields(line)
	if len(f) == 0 {
		return s, fmt.Errorf("no value")
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return s, err
	}
	s.Value = v
	return s, nil
}
