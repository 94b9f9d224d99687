//go:build tools

// Package tools pins the control-plane binaries that tests run: kube-apiserver
// and etcd are built from their Go modules so that no prebuilt download is
// needed.
package tools

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kubectl"
)
