package aliyunsim

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// The test endpoints under /_sim/. None of them needs a signature: they are the test's view
// of (and hand on) the simulated cloud, not part of it.
//
//	GET    /_sim/state             State as JSON
//	GET    /_sim/ca.pem            the root certificate
//	GET    /_sim/intermediate.pem  the issuing CA certificate
//	GET    /_sim/config            the run-time settings
//	POST   /_sim/config            change them: {"faultRate":0.2,"throttleQPS":5,"latency":"50ms",
//	                               "validationDelay":"1s","issueDelay":"1s","faultHang":"3s",
//	                               "validation":"dns","strictCN":true,"certCRLF":false}
//	PUT    /_sim/files?url=U       serve the body at U (<domain>/.well-known/pki-validation/fileauth.txt):
//	                               the user's web server, for FILE validation
//	GET    /_sim/files?url=U       read it back; DELETE removes it

func (s *Simulator) serveSim(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_sim/state":
		if r.Method != http.MethodGet {
			simError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		writeSimJSON(w, s.State())
	case "/_sim/ca.pem", "/_sim/intermediate.pem":
		if r.Method != http.MethodGet {
			simError(w, http.StatusMethodNotAllowed, "use GET")
			return
		}
		w.Header().Set("Content-Type", "application/x-pem-file")
		if r.URL.Path == "/_sim/ca.pem" {
			_, _ = w.Write(s.ca.rootPEM)
		} else {
			_, _ = w.Write(s.ca.interPEM)
		}
	case "/_sim/config":
		switch r.Method {
		case http.MethodGet:
			writeSimJSON(w, s.runtimeView())
		case http.MethodPost, http.MethodPut:
			if err := s.applyRuntime(r.Body); err != nil {
				simError(w, http.StatusBadRequest, err.Error())
				return
			}
			writeSimJSON(w, s.runtimeView())
		default:
			simError(w, http.StatusMethodNotAllowed, "use GET or POST")
		}
	case "/_sim/files":
		s.serveFiles(w, r)
	default:
		simError(w, http.StatusNotFound, "no such simulator endpoint")
	}
}

func writeSimJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
	_, _ = w.Write(b.Bytes())
}

func simError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(encodeJSON(map[string]string{"error": msg}))
}

// RuntimeConfig is the JSON of GET/POST /_sim/config. In a POST only the fields present are
// changed; durations are Go duration strings ("1.5s").
type RuntimeConfig struct {
	Validation      *string  `json:"validation,omitempty"`
	ValidationDelay *string  `json:"validationDelay,omitempty"`
	IssueDelay      *string  `json:"issueDelay,omitempty"`
	FaultRate       *float64 `json:"faultRate,omitempty"`
	FaultHang       *string  `json:"faultHang,omitempty"`
	ThrottleQPS     *float64 `json:"throttleQPS,omitempty"`
	Latency         *string  `json:"latency,omitempty"`
	StrictCN        *bool    `json:"strictCN,omitempty"`
	CertCRLF        *bool    `json:"certCRLF,omitempty"`
}

func (s *Simulator) runtimeView() RuntimeConfig {
	s.mu.Lock()
	rt := s.rt
	s.mu.Unlock()
	str := func(d time.Duration) *string { v := d.String(); return &v }
	return RuntimeConfig{
		Validation: &rt.validation, ValidationDelay: str(rt.validationDelay), IssueDelay: str(rt.issueDelay),
		FaultRate: &rt.faultRate, FaultHang: str(rt.faultHang), ThrottleQPS: &rt.throttleQPS,
		Latency: str(rt.latency), StrictCN: &rt.strictCN, CertCRLF: &rt.certCRLF,
	}
}

// applyRuntime checks the whole change before applying any of it.
func (s *Simulator) applyRuntime(body io.Reader) error {
	var in RuntimeConfig
	dec := json.NewDecoder(io.LimitReader(body, 1<<16))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&in); err != nil {
		return fmt.Errorf("config: %v", err)
	}
	dur := func(name string, p *string, positive bool) (time.Duration, error) {
		if p == nil {
			return 0, nil
		}
		d, err := time.ParseDuration(*p)
		if err != nil || d < 0 || (positive && d == 0) {
			return 0, fmt.Errorf("config: %s: %q is not a valid duration", name, *p)
		}
		return d, nil
	}
	vd, err := dur("validationDelay", in.ValidationDelay, false)
	if err != nil {
		return err
	}
	id, err := dur("issueDelay", in.IssueDelay, false)
	if err != nil {
		return err
	}
	fh, err := dur("faultHang", in.FaultHang, true)
	if err != nil {
		return err
	}
	lat, err := dur("latency", in.Latency, false)
	if err != nil {
		return err
	}
	if in.Validation != nil {
		if err := checkValidationMode(*in.Validation); err != nil {
			return err
		}
	}
	if in.FaultRate != nil && (*in.FaultRate < 0 || *in.FaultRate > 1) {
		return fmt.Errorf("config: faultRate %v is outside [0, 1]", *in.FaultRate)
	}
	if in.ThrottleQPS != nil && *in.ThrottleQPS < 0 {
		return fmt.Errorf("config: throttleQPS %v is negative", *in.ThrottleQPS)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if in.Validation != nil {
		s.rt.validation = *in.Validation
	}
	if in.ValidationDelay != nil {
		s.rt.validationDelay = vd
	}
	if in.IssueDelay != nil {
		s.rt.issueDelay = id
	}
	if in.FaultHang != nil {
		s.rt.faultHang = fh
	}
	if in.Latency != nil {
		s.rt.latency = lat
	}
	if in.FaultRate != nil {
		s.rt.faultRate = *in.FaultRate
	}
	if in.ThrottleQPS != nil {
		s.rt.throttleQPS = *in.ThrottleQPS
		s.bucket = tokenBucket{}
	}
	if in.StrictCN != nil {
		s.rt.strictCN = *in.StrictCN
	}
	if in.CertCRLF != nil {
		s.rt.certCRLF = *in.CertCRLF
	}
	return nil
}

// fileKey normalises a validation URL: scheme dropped, host lower-cased.
func fileKey(u string) (string, error) {
	u = strings.TrimPrefix(strings.TrimPrefix(u, "http://"), "https://")
	host, path, ok := strings.Cut(u, "/")
	if !ok || host == "" || path == "" {
		return "", fmt.Errorf("url %q must be <domain>/<path>", u)
	}
	return strings.ToLower(host) + "/" + path, nil
}

// PutFile serves content at url (<domain>/<path>, scheme optional), as the user's web server
// would: the library form of PUT /_sim/files.
func (s *Simulator) PutFile(url, content string) error {
	key, err := fileKey(url)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.st.files[key] = content
	return nil
}

func (s *Simulator) serveFiles(w http.ResponseWriter, r *http.Request) {
	key, err := fileKey(r.URL.Query().Get("url"))
	if err != nil {
		simError(w, http.StatusBadRequest, err.Error())
		return
	}
	switch r.Method {
	case http.MethodPut, http.MethodPost:
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<16))
		if err != nil {
			simError(w, http.StatusBadRequest, err.Error())
			return
		}
		s.mu.Lock()
		s.st.files[key] = string(body)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	case http.MethodGet:
		s.mu.Lock()
		content, ok := s.st.files[key]
		s.mu.Unlock()
		if !ok {
			simError(w, http.StatusNotFound, "no file at "+key)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, content)
	case http.MethodDelete:
		s.mu.Lock()
		delete(s.st.files, key)
		s.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	default:
		simError(w, http.StatusMethodNotAllowed, "use PUT, GET or DELETE")
	}
}
