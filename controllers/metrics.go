package controllers

import (
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"github.com/prometheus/client_golang/prometheus"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Metrics served with controller-runtime's on the manager's metrics
// endpoint. Labels are bounded: order API, action, outcome code, reason,
// issuer kind/namespace/name — never a request name.
var (
	apiCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aliyun_cas_issuer_api_calls_total",
		Help: "Calls to Alibaba Cloud APIs by product, action and outcome (ok, throttled or the error code).",
	}, []string{"product", "action", "outcome"})
	apiCallDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aliyun_cas_issuer_api_call_duration_seconds",
		Help:    "Duration of calls to Alibaba Cloud APIs by product and action.",
		Buckets: prometheus.ExponentialBuckets(0.01, 2, 12),
	}, []string{"product", "action"})
	ordersCreated = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aliyun_cas_issuer_orders_created_total",
		Help: "CAS orders created (create calls answered with success) by order API.",
	}, []string{"api"})
	ordersIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aliyun_cas_issuer_orders_issued_total",
		Help: "CertificateRequests answered with a certificate, by order API.",
	}, []string{"api"})
	ordersFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "aliyun_cas_issuer_orders_failed_total",
		Help: "CertificateRequests failed for good, by order API and reason.",
	}, []string{"api", "reason"})
	ordersPending = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aliyun_cas_issuer_orders_pending",
		Help: "Approved CertificateRequests waiting for CAS (validation, review, retries), by order API.",
	}, []string{"api"})
	timeToIssue = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "aliyun_cas_issuer_approval_to_issued_seconds",
		Help:    "Time from a CertificateRequest's approval to its certificate, by order API.",
		Buckets: prometheus.ExponentialBuckets(0.25, 2, 16), // 0.25 s … ~2.3 h
	}, []string{"api"})
	apiRate = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aliyun_cas_issuer_api_rate_limit",
		Help: "Calls per second the issuer paces an Alibaba Cloud account at, learned from throttled answers, by product, account fingerprint and action (\"\" for the account).",
	}, []string{"product", "account", "action"})
	issuerReady = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aliyun_cas_issuer_issuer_ready",
		Help: "1 when the issuer's Ready condition is True, 0 otherwise.",
	}, []string{"kind", "namespace", "name"})
)

func init() {
	metrics.Registry.MustRegister(apiCalls, apiCallDuration, ordersCreated, ordersIssued, ordersFailed,
		ordersPending, timeToIssue, issuerReady, apiRate)
}

func observeCall(c signer.CallInfo) {
	apiCalls.WithLabelValues(c.Product, c.Action, c.Outcome).Inc()
	apiCallDuration.WithLabelValues(c.Product, c.Action).Observe(c.Duration.Seconds())
}

// observeRate records a limiter's pacing rate.
func observeRate(r signer.RateInfo) {
	apiRate.WithLabelValues(r.Product, r.Account, r.Action).Set(r.Rate)
}

// observeOrderCreated counts an order the signer placed.
func observeOrderCreated(orderAPI string) { ordersCreated.WithLabelValues(orderAPI).Inc() }

// orderAPI is the metrics label of an issuer's order API.
func orderAPI(iss v1alpha1.GenericIssuer) string {
	if iss == nil {
		return signer.Config{}.WithDefaults().OrderAPI
	}
	return signer.Config{OrderAPI: string(iss.GetSpec().OrderAPI)}.WithDefaults().OrderAPI
}

// pendingSet keeps the pending gauge exact across repeated reconciles of
// the same request: a request counts once until it leaves the state.
var pendingSet = struct {
	sync.Mutex
	byUID map[types.UID]string
}{byUID: map[types.UID]string{}}

// The request metrics count CertificateRequests and Kubernetes CSRs alike.

func countPending(req metav1.Object, iss v1alpha1.GenericIssuer) {
	api := orderAPI(iss)
	pendingSet.Lock()
	defer pendingSet.Unlock()
	if _, ok := pendingSet.byUID[req.GetUID()]; !ok {
		pendingSet.byUID[req.GetUID()] = api
		ordersPending.WithLabelValues(api).Inc()
	}
}

func uncountPending(req metav1.Object) {
	pendingSet.Lock()
	defer pendingSet.Unlock()
	if api, ok := pendingSet.byUID[req.GetUID()]; ok {
		delete(pendingSet.byUID, req.GetUID())
		ordersPending.WithLabelValues(api).Dec()
	}
}

func observeIssued(cr *cmapi.CertificateRequest, iss v1alpha1.GenericIssuer, now time.Time) {
	var approved time.Time
	if c := requestCondition(cr, cmapi.CertificateRequestConditionApproved); c != nil && c.LastTransitionTime != nil {
		approved = c.LastTransitionTime.Time
	}
	observeIssuedAt(cr, iss, approved, now)
}

// observeIssuedAt counts an issued request approved at approved (zero:
// unknown).
func observeIssuedAt(req metav1.Object, iss v1alpha1.GenericIssuer, approved, now time.Time) {
	uncountPending(req)
	api := orderAPI(iss)
	ordersIssued.WithLabelValues(api).Inc()
	if !approved.IsZero() {
		timeToIssue.WithLabelValues(api).Observe(now.Sub(approved).Seconds())
	}
}

func observeFailed(req metav1.Object, iss v1alpha1.GenericIssuer, reason string) {
	uncountPending(req)
	ordersFailed.WithLabelValues(orderAPI(iss), reason).Inc()
}

func observeIssuerReady(iss v1alpha1.GenericIssuer) {
	v := 0.0
	if c := v1alpha1.ReadyCondition(iss); c != nil && c.Status == metav1.ConditionTrue {
		v = 1
	}
	issuerReady.WithLabelValues(iss.KindName(), iss.GetNamespace(), iss.GetName()).Set(v)
}
