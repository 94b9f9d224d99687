package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Metrics of the calls to Alibaba Cloud, served with controller-runtime's
// on the manager's metrics endpoint.
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
)

func init() {
	metrics.Registry.MustRegister(apiCalls, apiCallDuration)
}

func observeCall(c signer.CallInfo) {
	apiCalls.WithLabelValues(c.Product, c.Action, c.Outcome).Inc()
	apiCallDuration.WithLabelValues(c.Product, c.Action).Observe(c.Duration.Seconds())
}
