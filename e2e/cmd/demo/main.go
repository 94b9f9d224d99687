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
	"path/filepath"
	"strings"
	"syscall"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

func main() {
	timeout := flag.Duration("timeout", 5*time.Minute, "give up after this long")
	keep := flag.Bool("keep", false, "keep running after the certificates are issued, until interrupted")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *timeout, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "demo failed:", err)
		os.Exit(1)
	}
}

type progress struct{ start time.Time }

func (p progress) step(format string, args ...any) {
	fmt.Printf("[%5.1fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

func run(ctx context.Context, timeout time.Duration, keep bool) (err error) {
	p := progress{start: time.Now()}
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	p.step("starting kube-apiserver + etcd, cert-manager controllers, the Alibaba Cloud simulator and the issuer")
	f, err := framework.Start(ctx, framework.Options{})
	if err != nil {
		return err
	}
	defer func() {
		if stopErr := f.Stop(); stopErr != nil && err == nil {
			err = stopErr
		}
	}()
	p.step("sandbox ready: simulator %s, kubeconfig %s", f.SimURL, f.Kubeconfig)

	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	examples := filepath.Join(root, "deploy", "examples")
	for _, file := range []string{"credentials-secret.yaml", "clusterissuer.yaml", "certificate.yaml", "ingress.yaml"} {
		objs, err := framework.ReadManifests(filepath.Join(examples, file))
		if err != nil {
			return err
		}
		for _, o := range objs {
			pointAtSimulator(o, f.SimURL)
		}
		if err := f.Create(ctx, objs...); err != nil {
			return err
		}
		p.step("applied deploy/examples/%s", file)
	}

	p.step("waiting for AliyunCASClusterIssuer aliyun-cas to be Ready (a DescribePackageState call)")
	if err := f.WaitIssuerReady(ctx, &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: "aliyun-cas"}}); err != nil {
		return err
	}
	p.step("issuer Ready")

	for _, c := range []struct{ name, via string }{
		{"www-example-com", "Certificate deploy/examples/certificate.yaml"},
		{"shop-example-com-tls", "Ingress shop (ingress-shim)"},
	} {
		p.step("waiting for Certificate demo/%s from the %s", c.name, c.via)
		_, sec, err := f.WaitCertificateReady(ctx, "demo", c.name)
		if err != nil {
			return err
		}
		tls, err := framework.VerifyTLSSecret(sec, f.Sim.RootPEM())
		if err != nil {
			return fmt.Errorf("secret demo/%s: %w", sec.Name, err)
		}
		p.step("Certificate demo/%s Ready; Secret %s holds a verified chain:\n%s", c.name, sec.Name, tls.Describe())
	}
	st := f.Sim.State()
	p.step("simulator saw %d order(s) and %d CreateCertificateWithCsrRequest call(s)", len(st.Orders), st.Calls["CreateCertificateWithCsrRequest"])
	if keep {
		p.step("running until interrupted; try: KUBECONFIG=%s bin/kubectl get certificates -A", f.Kubeconfig)
		<-ctx.Done()
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil
		}
	}
	p.step("done")
	return nil
}

// pointAtSimulator rewrites the examples' Alibaba Cloud endpoint and
// AccessKey placeholders to the local simulator's.
func pointAtSimulator(o *unstructured.Unstructured, simURL string) {
	switch o.GetKind() {
	case "AliyunCASClusterIssuer", "AliyunCASIssuer":
		_ = unstructured.SetNestedField(o.Object, simURL, "spec", "endpoint")
	case "Secret":
		data, _, _ := unstructured.NestedStringMap(o.Object, "stringData")
		for k, v := range data {
			switch {
			case strings.Contains(v, "ACCESS_KEY_ID"):
				data[k] = framework.SimAccessKeyID
			case strings.Contains(v, "ACCESS_KEY_SECRET"):
				data[k] = framework.SimAccessKeySecret
			}
		}
		_ = unstructured.SetNestedStringMap(o.Object, data, "stringData")
	}
}
