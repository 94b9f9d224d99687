// Package quickstart applies deploy/examples to a running system, pointed at
// the local simulator, and waits for what a newcomer would look at: the
// issuer Ready and the example certificates issued. The demo and the sandbox
// both start this way.
package quickstart

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

// IssuerName is the AliyunCASClusterIssuer of deploy/examples/clusterissuer.yaml.
const IssuerName = "aliyun-cas"

// Namespace holds the example Certificate and Ingress.
const Namespace = "demo"

// exampleFiles are applied in this order: the Secret before the issuer
// that reads it, the issuer before what refers to it.
var exampleFiles = []string{"credentials-secret.yaml", "clusterissuer.yaml", "certificate.yaml", "ingress.yaml"}

// Certificate is one example certificate and what creates it.
type Certificate struct{ Name, Via string }

// Certificates are the Certificates the examples lead to.
var Certificates = []Certificate{
	{"www-example-com", "Certificate deploy/examples/certificate.yaml"},
	{"shop-example-com-tls", "Ingress shop (ingress-shim)"},
}

// Progress prints timestamped steps.
type Progress struct {
	Start time.Time
	// Out receives the lines; stdout when nil.
	Out io.Writer
}

// Step prints one line with the time since Start.
func (p Progress) Step(format string, args ...any) {
	out := p.Out
	if out == nil {
		out = os.Stdout
	}
	fmt.Fprintf(out, "[%5.1fs] %s\n", time.Since(p.Start).Seconds(), fmt.Sprintf(format, args...))
}

// Apply creates the examples, pointed at f's simulator, and waits until the
// issuer is Ready.
func Apply(ctx context.Context, f *framework.Framework, p Progress) error {
	root, err := testenv.ModuleRoot()
	if err != nil {
		return err
	}
	examples := filepath.Join(root, "deploy", "examples")
	for _, file := range exampleFiles {
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
		p.Step("applied deploy/examples/%s", file)
	}
	p.Step("waiting for AliyunCASClusterIssuer %s to be Ready (a DescribePackageState call)", IssuerName)
	if err := f.WaitIssuerReady(ctx, &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: IssuerName}}); err != nil {
		return err
	}
	p.Step("issuer Ready")
	return nil
}

// WaitCertificates waits until every example Certificate is Ready and its
// Secret holds a chain that verifies against the simulator's root; verbose
// prints each chain.
func WaitCertificates(ctx context.Context, f *framework.Framework, p Progress, verbose bool) error {
	for _, c := range Certificates {
		p.Step("waiting for Certificate %s/%s from the %s", Namespace, c.Name, c.Via)
		_, sec, err := f.WaitCertificateReady(ctx, Namespace, c.Name)
		if err != nil {
			return err
		}
		tls, err := framework.VerifyTLSSecret(sec, f.Sim.RootPEM())
		if err != nil {
			return fmt.Errorf("secret %s/%s: %w", Namespace, sec.Name, err)
		}
		if verbose {
			p.Step("Certificate %s/%s Ready; Secret %s holds a verified chain:\n%s", Namespace, c.Name, sec.Name, tls.Describe())
		} else {
			p.Step("Certificate %s/%s Ready; Secret %s holds a verified chain", Namespace, c.Name, sec.Name)
		}
	}
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
