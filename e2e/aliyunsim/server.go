package aliyunsim

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

// API versions the simulator answers; the version alone selects the product because the
// simulator is one endpoint for all of them.
const (
	VersionCAS2018 = "2018-07-13"
	VersionCAS2020 = "2020-04-07"
	VersionAlidns  = "2015-01-09"
	VersionSTS     = "2015-04-01"
)

// handler runs one action with s.mu held. It returns the body without RequestId.
type handler func(s *Simulator, c *call) (obj, *apiError)

// action describes one API action.
type action struct {
	run      handler
	unsigned bool // callable without a signature (AssumeRoleWithOIDC)
}

var routes = map[string]map[string]action{
	VersionCAS2018: cas2018Actions,
	VersionCAS2020: cas2020Actions,
	VersionAlidns:  alidnsActions,
	VersionSTS:     stsActions,
}

// Simulator is a local, strict stand-in for the Alibaba Cloud APIs this project uses. It
// implements http.Handler; Start serves it on a listener of its own.
type Simulator struct {
	cfg  Config
	logf func(format string, args ...any)
	ca   *ca
	keys *keyPool

	mu     sync.Mutex
	now    func() time.Time // the clock; tests move it
	rt     runtimeConfig
	st     *state
	bucket tokenBucket
	rnd    *mrand.Rand
	// faultRnd, when set (SetFaults), decides the faults: the same calls meet the same faults
	// in every run.
	faultRnd *mrand.Rand

	closing   chan struct{}
	closeOnce sync.Once
	srv       *http.Server
	url       string
	dns       *dnsServer
}

// New builds a simulator from cfg; it does not listen (see Start, or mount it as a handler).
func New(cfg Config) (*Simulator, error) {
	cfg, err := cfg.normalize()
	if err != nil {
		return nil, err
	}
	now := cfg.Now
	if now == nil {
		now = time.Now
	}
	authority, err := loadOrCreateCA(cfg.CADir, now())
	if err != nil {
		return nil, err
	}
	var seed [32]byte
	_, _ = rand.Read(seed[:])
	s := &Simulator{
		cfg:     cfg,
		logf:    cfg.Logf,
		ca:      authority,
		keys:    newKeyPool(),
		now:     now,
		st:      newState(),
		rnd:     mrand.New(mrand.NewChaCha8(seed)),
		closing: make(chan struct{}),
		rt: runtimeConfig{
			validation:      cfg.Validation,
			validationDelay: cfg.ValidationDelay,
			issueDelay:      cfg.IssueDelay,
			faultRate:       cfg.FaultRate,
			faultHang:       cfg.FaultHang,
			throttleQPS:     cfg.ThrottleQPS,
			latency:         cfg.Latency,
			strictCN:        cfg.StrictCN,
			certCRLF:        cfg.CertCRLF,
			payedWindow:     cfg.PayedWindow,
			recordForm:      cfg.RecordDomainForm,
			recordType:      cfg.DNSRecordType,
		},
	}
	if s.logf == nil {
		s.logf = func(string, ...any) {}
	}
	s.seed()
	return s, nil
}

// seed fills the account: zones, packages, purchased DV instances. Identifiers start at random
// bases so that a client cannot mistake one run's ids for another's.
func (s *Simulator) seed() {
	st := s.st
	st.nextID = 10_000_000 + s.rnd.Int64N(80_000_000)
	st.nextCert = 10_000_000 + s.rnd.Int64N(80_000_000)
	st.nextRec = 1_000_000_000 + s.rnd.Int64N(8_000_000_000)
	for _, z := range s.cfg.Zones {
		st.zones[z] = &zone{id: randomUUID(), name: z}
	}
	for _, z := range s.cfg.ForeignZones {
		st.foreign[z] = true
	}
	for code, p := range s.cfg.Packages {
		st.packages[code] = &pkgState{total: p.Quota, maxNames: p.MaxNames}
	}
	now := s.now()
	for i := 0; i < s.cfg.DVInstances; i++ {
		inst := &dvInstance{id: "cas-cn-" + randomLowerAlnum(12), bought: now.Add(time.Duration(i-s.cfg.DVInstances) * time.Minute), product: dvInstanceProduct}
		st.instances = append(st.instances, inst)
		st.instanceIdx[inst.id] = inst
	}
	s.seedV2()
}

// Start serves the simulator on listen ("127.0.0.1:0" picks a port), and its DNS server when
// Config.DNSListen is set. It returns the base URL.
func (s *Simulator) Start(listen string) (string, error) {
	if s.srv != nil {
		return "", errors.New("aliyunsim: already started")
	}
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return "", err
	}
	scheme := "http"
	if s.cfg.TLS {
		cert, err := s.ca.servingCert(ln.Addr(), s.now())
		if err != nil {
			ln.Close()
			return "", err
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
		scheme = "https"
	}
	if s.cfg.DNSListen != "" {
		d, err := startDNS(s, s.cfg.DNSListen)
		if err != nil {
			ln.Close()
			return "", err
		}
		s.dns = d
	}
	s.srv = &http.Server{Handler: s, ReadHeaderTimeout: 10 * time.Second}
	s.url = scheme + "://" + ln.Addr().String()
	if err := s.ca.publishRoot(s.url + "/_sim/ca.pem"); err != nil {
		ln.Close()
		return "", err
	}
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.logf("aliyunsim: serve: %v", err)
		}
	}()
	return s.url, nil
}

// Close stops the servers, releases hanging calls and the key pool.
func (s *Simulator) Close() error {
	var err error
	s.closeOnce.Do(func() {
		close(s.closing)
		if s.srv != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			if e := s.srv.Shutdown(ctx); e != nil {
				err = s.srv.Close()
			}
		}
		if s.dns != nil {
			if e := s.dns.close(); e != nil && err == nil {
				err = e
			}
		}
		s.keys.close()
	})
	return err
}

// URL is the base URL given by Start ("" when the simulator is mounted elsewhere).
func (s *Simulator) URL() string { return s.url }

// DNSAddr is the UDP address of the DNS server, "" when it is off.
func (s *Simulator) DNSAddr() string {
	if s.dns == nil {
		return ""
	}
	return s.dns.addr()
}

// RootPEM is the root certificate every issued chain leads to.
func (s *Simulator) RootPEM() []byte { return append([]byte(nil), s.ca.rootPEM...) }

// IntermediatePEM is the CA certificate that signs the leaves.
func (s *Simulator) IntermediatePEM() []byte { return append([]byte(nil), s.ca.interPEM...) }

// State is a snapshot of the account, after bringing every order up to date with the clock.
func (s *Simulator) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.advanceAll()
	out := s.st.snapshot(s.now())
	out.Instances = s.instanceStates()
	return out
}

// SetFaultRate changes the fraction of signed calls that fail or hang (clamped to [0, 1]).
func (s *Simulator) SetFaultRate(f float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rt.faultRate = min(max(f, 0), 1)
}

// SetFaults makes the given fraction of signed calls fail or hang (hang: how long, 0 keeps
// the current), decided by a generator seeded with seed, so that a test meets the same faults
// for the same sequence of calls.
func (s *Simulator) SetFaults(rate float64, seed uint64, hang time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rt.faultRate = min(max(rate, 0), 1)
	s.faultRnd = mrand.New(mrand.NewPCG(seed, seed))
	if hang > 0 {
		s.rt.faultHang = hang
	}
}

// SetThrottleQPS changes the signed-call rate limit; 0 removes it.
func (s *Simulator) SetThrottleQPS(q float64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rt.throttleQPS = max(q, 0)
	s.bucket = tokenBucket{}
}

// SetValidation switches between ValidationAuto and ValidationDNS; other values are ignored.
// Orders still waiting are judged by the new mode on their next evaluation.
func (s *Simulator) SetValidation(mode string) {
	if checkValidationMode(mode) != nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rt.validation = mode
}

// SetDelays changes the validation and issue delays.
func (s *Simulator) SetDelays(validation, issue time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rt.validationDelay, s.rt.issueDelay = max(validation, 0), max(issue, 0)
}

// SetLatency changes the latency added to every API call.
func (s *Simulator) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.rt.latency = max(d, 0)
}

// ServeHTTP answers the RPC endpoint "/" and the test endpoints under /_sim/.
func (s *Simulator) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, "/_sim/") {
		s.serveSim(w, r)
		return
	}
	s.serveAPI(w, r)
}

func (s *Simulator) serveAPI(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	reqID := randomUUID()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	var c *call
	var e *apiError
	switch {
	case err != nil:
		c, e = &call{format: "JSON", host: r.Host}, badRequest("InvalidParameter.Body", "The request body cannot be read: %v", err)
	case len(body) > maxBody:
		c, e = &call{format: "JSON", host: r.Host}, newErr(http.StatusRequestEntityTooLarge, "RequestTooLarge", "The request body exceeds %d bytes.", maxBody)
	case r.URL.Path != "/" && r.URL.Path != "":
		// RPC-style APIs live at "/" only.
		c, e = &call{format: "JSON", host: r.Host}, errActionNotFound
	default:
		c, e = parseCall(r, body)
	}
	var resp obj
	if e == nil {
		resp, e = s.handle(r.Context(), c)
	}
	if e != nil {
		s.mu.Lock()
		s.st.errors[e.Code]++
		s.mu.Unlock()
		s.writeError(w, c, reqID, e)
	} else {
		resp["RequestId"] = reqID
		s.write(w, c, http.StatusOK, c.action+"Response", resp)
	}
	status, code := http.StatusOK, ""
	if e != nil {
		status, code = e.Status, e.Code
	}
	s.logf("aliyunsim: %s %s %s ak=%s -> %d %s (%s)", r.Method, c.version, c.action, c.accessKeyID, status, code, time.Since(start).Round(time.Millisecond))
}

// handle runs a parsed call through the gateway (routing, authentication, flow control, fault
// injection) to its action.
func (s *Simulator) handle(ctx context.Context, c *call) (obj, *apiError) {
	actions, ok := routes[c.version]
	if !ok {
		return nil, errInvalidVersion
	}
	if c.version == VersionCAS2018 && s.cfg.LegacyAPI != "" {
		return nil, errLegacyRefused(s.cfg.LegacyAPI)
	}
	act, ok := actions[c.action]
	if !ok {
		return nil, errActionNotFound
	}

	s.mu.Lock()
	s.st.calls[c.action]++
	latency := s.rt.latency
	s.mu.Unlock()
	if latency > 0 && !s.sleep(ctx, latency) {
		return nil, errUnavailable
	}

	if act.unsigned {
		s.mu.Lock()
		defer s.mu.Unlock()
		return act.run(s, c)
	}

	s.mu.Lock()
	if e := s.authenticate(c); e != nil {
		s.mu.Unlock()
		return nil, e
	}
	if e := s.authorize(c); e != nil {
		s.mu.Unlock()
		return nil, e
	}
	if !s.takeToken() {
		s.st.throttled++
		s.mu.Unlock()
		return nil, errThrottled
	}
	f := s.rollFault()
	if f != faultNone {
		s.st.faults++
	}
	hang := s.rt.faultHang
	s.mu.Unlock()

	switch f {
	case faultBefore:
		return nil, s.faultError()
	case faultHangBefore:
		s.sleep(ctx, hang)
		return nil, errUnavailable
	}

	s.mu.Lock()
	resp, e := act.run(s, c)
	s.mu.Unlock()

	switch f {
	case faultAfter:
		// The action took effect; only the answer is lost.
		return nil, s.faultError()
	case faultHangAfter:
		s.sleep(ctx, hang)
		return nil, errUnavailable
	}
	return resp, e
}

// sleep waits d, or less when the client goes away or the simulator closes; it reports
// whether the full time passed.
func (s *Simulator) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
	case <-s.closing:
	}
	return false
}

func (s *Simulator) write(w http.ResponseWriter, c *call, status int, root string, body obj) {
	w.Header().Set("x-acs-request-id", fmt.Sprint(body["RequestId"]))
	if c.format == "XML" {
		w.Header().Set("Content-Type", "text/xml;charset=utf-8")
		w.WriteHeader(status)
		_, _ = w.Write(encodeXML(root, body))
		return
	}
	w.Header().Set("Content-Type", "application/json;charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(encodeJSON(body))
}

func (s *Simulator) writeError(w http.ResponseWriter, c *call, reqID string, e *apiError) {
	body := obj{
		"RequestId": reqID,
		"HostId":    c.host,
		"Code":      e.Code,
		"Message":   e.Message,
		"Recommend": recommend(e.Code, reqID),
	}
	s.write(w, c, e.Status, "Error", body)
}

// randomUUID is a RequestId-shaped random identifier (upper-case UUID v4, as Alibaba's).
func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return strings.ToUpper(fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:]))
}

func randomLowerAlnum(n int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}
