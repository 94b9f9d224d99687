// Package bench measures the issuer against cert-manager's in-tree CA issuer
// on a real control plane (kube-apiserver, etcd, cert-manager's controllers
// and the Alibaba Cloud simulator, from e2e/framework): throughput and
// time-to-Ready, Alibaba Cloud API calls and API-server writes per
// certificate, behaviour under throttling, and the issuer process's memory
// and CPU. `make bench` runs it through bench/cmd/bench.
package bench
