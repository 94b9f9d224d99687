package controllers_test

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// writeCounter counts the controllers' writes (POST, PUT, PATCH, DELETE)
// to the API server, by method and path.
type writeCounter struct {
	mu     sync.Mutex
	writes map[string]int
}

func (c *writeCounter) RoundTrip(next http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		switch r.Method {
		case http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete:
			c.mu.Lock()
			c.writes[r.Method+" "+r.URL.Path]++
			c.mu.Unlock()
		}
		return next.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// in returns the writes whose path is in namespace ns, and their total.
func (c *writeCounter) in(ns string) (map[string]int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	out, n := map[string]int{}, 0
	for k, v := range c.writes {
		if strings.Contains(k, "/namespaces/"+ns+"/") {
			out[k] = v
			n += v
		}
	}
	return out, n
}

func describeWrites(w map[string]int) string {
	var keys []string
	for k, v := range w {
		keys = append(keys, fmt.Sprintf("%s ×%d", k, v))
	}
	sort.Strings(keys)
	return strings.Join(keys, ", ")
}

// TestWritesPerIssuance counts the API-server writes of one issuance, the
// figure the bench reports per certificate: each is a write in etcd and an
// update to every watcher of CertificateRequests, so one more per
// certificate is felt in a large cluster. What each is for:
//
//   - the intent to order, with the cancel-order finalizer (metadata,
//     before the create);
//   - while the order waits: the Ready condition saying for what (status,
//     once per change, never per poll), whose order state mirror carries
//     the order id CAS returned;
//   - the certificate with Ready=True (status; the mirror carries the
//     order id if no status write did yet); no Issued Event, the
//     condition says it;
//   - the finalizer's removal, with the annotations brought up to the
//     final state (metadata).
//
// Issued at the first look, the second is not made: three writes. The
// Instance flow (orderAPI Instance) writes the same: the V2.0 submission,
// whose step (Submitting) is not written, rides on the next write, as the
// next look finds it on the instance anyway (signer.Pending.Rebuildable).
func TestWritesPerIssuance(t *testing.T) {
	testKeys(t)
	for _, tc := range []struct {
		name     string
		delay    time.Duration
		want     int
		instance bool
	}{
		{"issued at the first look", 0, 3, false},
		{"validated seconds later", 3 * time.Second, 4, false},
		{"instance issued at the first look", 0, 3, true},
		{"instance validated seconds later", 3 * time.Second, 4, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			simCfg := aliyunsim.Config{Packages: map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}}}
			spec := func(url string) v1alpha1.IssuerSpec { return issuerSpec(url, "digicert-free-1-free") }
			if tc.instance {
				simCfg, spec = instanceSimConfig(1), instanceIssuerSpec
			}
			sim, url := startSim(t, simCfg)
			sim.SetDelays(tc.delay, 0)
			counter := &writeCounter{writes: map[string]int{}}
			cfg := rest.CopyConfig(env.Config)
			cfg.Wrap(counter.RoundTrip)
			opts := testOptions()
			startManagerWithConfig(t, cfg, opts, controllers.CacheOptions("", opts.ClusterResourceNamespace))
			ns := newNamespace(t)
			ensureNamespace(t, clusterNS)
			createSecret(t, clusterNS, secretName, credentials(testKeyID, testKeySecret))
			// A cluster issuer: its own writes and Events are outside ns.
			ref := createClusterIssuer(t, ns, spec(url))
			waitIssuer(t, "", ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

			key := createCR(t, ns, "www", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "www.example.com", dns: []string{"www.example.com"}}))
			approve(t, key)
			waitIssued(t, key)
			eventually(t, 10*time.Second, func() (bool, string) {
				return !controllerutil.ContainsFinalizer(getCR(t, key), v1alpha1.FinalizerCancelOrder), "finalizer left after issuance"
			})
			// Events are written asynchronously: none may come later.
			consistently(t, 2*time.Second, func() (bool, string) {
				w, n := counter.in(ns)
				return n <= tc.want, fmt.Sprintf("%d writes for one issuance, want at most %d: %s", n, tc.want, describeWrites(w))
			})
			w, n := counter.in(ns)
			t.Logf("%d writes: %s", n, describeWrites(w))
			if _, applications := simApplications(sim); tc.instance && applications != 1 {
				t.Errorf("%d applications, want 1", applications)
			}
			if orders := orderCount(sim); !tc.instance && orders != 1 {
				t.Errorf("%d orders placed, want 1", orders)
			}
		})
	}
}
