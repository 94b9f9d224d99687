package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/cmd/internal/quickstart"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// applyExamples applies deploy/examples and waits until the issuer is
// Ready; with an approver it also waits for the example certificates, so
// that the first `kubectl get certificates` shows them Ready. Progress goes
// to stderr: stdout's first line stays the "sandbox ready" line.
func applyExamples(ctx context.Context, f *framework.Framework, approved bool) error {
	p := quickstart.Progress{Start: time.Now(), Out: os.Stderr}
	if err := quickstart.Apply(ctx, f, p); err != nil {
		return err
	}
	if !approved {
		p.Step("no approver: the example CertificateRequests stay unapproved")
		return nil
	}
	return quickstart.WaitCertificates(ctx, f, p, false)
}

// printTryThis prints the few commands a newcomer tries first.
func printTryThis(w io.Writer, simURL, kubeconfig string) {
	fmt.Fprintf(w, `
Try:
  bin/kubectl --kubeconfig %[1]s get certificates -A
  bin/kubectl --kubeconfig %[1]s apply -f - <<'YAML'
apiVersion: cert-manager.io/v1
kind: Certificate
metadata:
  name: mine
  namespace: %[2]s
spec:
  secretName: mine-tls
  commonName: mine.example.com
  dnsNames: [mine.example.com]
  privateKey: {algorithm: ECDSA, size: 256}
  issuerRef: {group: aliyun-cas-issuer.io, kind: AliyunCASClusterIssuer, name: %[3]s}
YAML
  bin/kubectl --kubeconfig %[1]s -n %[2]s get certificate mine -w
  curl -s %[4]s/_sim/state    # the simulator's orders and calls

`, kubeconfig, quickstart.Namespace, quickstart.IssuerName, simURL)
}
