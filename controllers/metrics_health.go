package controllers

import (
	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// What an issuer's health check learned about its account, as gauges:
// labels are the issuer's kind/namespace/name, its order API and (for
// instances) a state out of a fixed set.
var (
	quotaRemaining = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aliyun_cas_issuer_package_quota_remaining",
		Help: "Certificates left in the V1.0 resource package of the issuer's product, as its last health check read them.",
	}, []string{"kind", "namespace", "name", "api"})
	instancesByState = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "aliyun_cas_issuer_instances",
		Help: "Certificate instances the issuer may use, by state, as its last health check counted them: " +
			"usable (V2.0: inactive, or for orderAPI DVOrder the unused instances), in_flight (pending), " +
			"issued (normal or willExpire; an issued instance takes its own Certificate's renewals), other (expired, refunded, closed).",
	}, []string{"kind", "namespace", "name", "api", "state"})
)

// Instance states of aliyun_cas_issuer_instances.
const (
	instanceStateUsable   = "usable"
	instanceStateInFlight = "in_flight"
	instanceStateIssued   = "issued"
	instanceStateOther    = "other"
)

func init() {
	metrics.Registry.MustRegister(quotaRemaining, instancesByState)
}

// observeIssuerHealth sets the account gauges of an issuer from a
// successful check. Series of what the check no longer reports (an order
// API changed) are dropped.
func observeIssuerHealth(iss v1alpha1.GenericIssuer, h signer.Health) {
	kind, ns, name := iss.KindName(), iss.GetNamespace(), iss.GetName()
	forgetHealthMetrics(kind, ns, name)
	api := orderAPI(iss)
	if q := h.Quota; q != nil {
		quotaRemaining.WithLabelValues(kind, ns, name, api).Set(float64(max(q.Total-q.Used, 0)))
	}
	switch {
	case h.Instances != nil:
		for state, n := range map[string]int{
			instanceStateUsable:   h.Instances.Inactive,
			instanceStateInFlight: h.Instances.Pending,
			instanceStateIssued:   h.Instances.Issued,
			instanceStateOther:    h.Instances.Other,
		} {
			instancesByState.WithLabelValues(kind, ns, name, api, state).Set(float64(n))
		}
	case h.UsableInstances != nil:
		instancesByState.WithLabelValues(kind, ns, name, api, instanceStateUsable).Set(float64(*h.UsableInstances))
	}
}

// forgetHealthMetrics drops an issuer's account gauges.
func forgetHealthMetrics(kind, ns, name string) {
	l := prometheus.Labels{"kind": kind, "namespace": ns, "name": name}
	quotaRemaining.DeletePartialMatch(l)
	instancesByState.DeletePartialMatch(l)
}

// forgetIssuerMetrics drops every series of a deleted issuer.
func forgetIssuerMetrics(kind, ns, name string) {
	forgetHealthMetrics(kind, ns, name)
	issuerReady.DeletePartialMatch(prometheus.Labels{"kind": kind, "namespace": ns, "name": name})
}
