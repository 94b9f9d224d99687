package signer_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// loseFirstCreate delivers the first CreateCertificateWithCsrRequest and
// loses its answer, as a connection reset after the order was placed.
type loseFirstCreate struct {
	base http.RoundTripper
	lost atomic.Bool
}

func (l *loseFirstCreate) RoundTrip(r *http.Request) (*http.Response, error) {
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
	}
	form, _ := url.ParseQuery(string(body))
	action := form.Get("Action")
	if action == "" {
		action = r.URL.Query().Get("Action")
	}
	resp, err := l.base.RoundTrip(r)
	if err == nil && action == "CreateCertificateWithCsrRequest" && l.lost.CompareAndSwap(false, true) {
		resp.Body.Close()
		return nil, errors.New("read: connection reset by peer")
	}
	return resp, err
}

// A multi-name order whose create answer was lost is found again by the
// name CAS lists for package orders (Domain, the main domain) and its
// BuyDate: exactly one order, never a second one.
func TestLostMultiNameCreateOrdersOnce(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{
		Packages:   map[string]aliyunsim.Package{"globalsign-dv-w-advanced": {Quota: 5, MaxNames: 5}},
		Validation: aliyunsim.ValidationAuto,
	})
	cfg := simConfig(url)
	cfg.ProductCode = "globalsign-dv-w-advanced"
	lose := &loseFirstCreate{base: http.DefaultTransport}
	cfg.Transport = lose
	sg, err := signer.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"www.example.com", "api.example.com", "example.com"}
	req := signer.Request{CSRPEM: csrFor(t, rsaKey(t), names[0], names...)}
	store := &memStore{}
	res, err := drive(t, sg, req, store, 30*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if !lose.lost.Load() {
		t.Fatal("no create answer was lost")
	}
	st := sim.State()
	if n := len(orders2020(st)); n != 1 || st.Calls["CreateCertificateWithCsrRequest"] != 1 {
		t.Fatalf("%d orders, %d creates: want exactly one", n, st.Calls["CreateCertificateWithCsrRequest"])
	}
	if got := strings.Join(res.Certificate.Leaf.DNSNames, ","); got != strings.Join(names, ",") {
		t.Fatalf("leaf names %s", got)
	}
}

// An endpoint that no longer serves CAS 2018-07-13 makes the DVOrder
// issuer's check say so plainly (issuer, not transient).
func TestLegacyAPIRefusedCheck(t *testing.T) {
	for _, code := range []string{aliyunsim.LegacyInvalidVersion, aliyunsim.LegacyInvalidAPI} {
		_, sg := newDVSim(t, aliyunsim.Config{DVInstances: 1, LegacyAPI: code}, nil)
		_, err := sg.Check(context.Background())
		ie, ok := signer.AsIssuer(err)
		if !ok || ie.Reason != "UnsupportedAPI" || !strings.Contains(err.Error(), "no longer serves CAS 2018-07-13") || !strings.Contains(err.Error(), "orderAPI CSR") {
			t.Errorf("%s: got %v", code, err)
		}
	}
}
