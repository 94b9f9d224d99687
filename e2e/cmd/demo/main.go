// Command demo runs the whole system on this machine — a real Kubernetes
// control plane, cert-manager's controllers, the Alibaba Cloud simulator and
// the issuer binary — applies deploy/examples, and prints the certificates
// the issuer obtained. It is `make demo`.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/cmd/internal/quickstart"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

func main() {
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	keep := flag.Bool("keep", false, "keep running after the certificates are issued, until interrupted")
	issuerBinary := flag.String("issuer-binary", "", "a prebuilt issuer binary (built from main.go when empty)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *timeout, *keep, *issuerBinary); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, timeout time.Duration, keep bool, issuerBinary string) (err error) {
	p := quickstart.Progress{Start: time.Now()}
	p.Step("starting kube-apiserver + etcd, cert-manager controllers, the Alibaba Cloud simulator and the issuer")
	f, err := framework.Start(ctx, framework.Options{IssuerBinary: issuerBinary})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := f.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	p.Step("system up: simulator %s, kubeconfig %s", f.SimURL, f.Kubeconfig)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := quickstart.Apply(ctx, f, p); err != nil {
		return err
	}
	if err := quickstart.WaitCertificates(ctx, f, p, true); err != nil {
		return err
	}
	st := f.Sim.State()
	p.Step("simulator saw %d order(s) and %d CreateCertificateWithCsrRequest call(s)", len(st.Orders), st.Calls["CreateCertificateWithCsrRequest"])
	if keep {
		p.Step("running until interrupted; try: KUBECONFIG=%s bin/kubectl get certificates -A", f.Kubeconfig)
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil
		}
	}
	p.Step("done")
	return nil
}
