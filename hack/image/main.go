// Command image builds the issuer's container image without a container
// engine: an OCI image index for each given platform, on an empty base
// with the build machine's CA certificates and a passwd entry for the
// non-root user, taking USER, ENTRYPOINT and LABELs from the Dockerfile. It
// writes an OCI layout directory, the same layout as a tarball, and an SPDX
// SBOM of the binary's modules. Every timestamp is SOURCE_DATE_EPOCH, so
// one commit gives one digest. It is `make image`.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/yaml"
)

// Output names inside -out.
const (
	layoutName  = "aliyun-cas-issuer.oci"
	tarballName = "aliyun-cas-issuer.oci.tar"
	sbomName    = "aliyun-cas-issuer.spdx.json"
)

// caBundles are the usual trust store files of Linux distributions.
var caBundles = []string{
	"/etc/ssl/certs/ca-certificates.crt", // Debian, Ubuntu, Alpine, Arch
	"/etc/pki/tls/certs/ca-bundle.crt",   // Fedora, RHEL
	"/etc/ssl/ca-bundle.pem",             // openSUSE
	"/etc/ssl/cert.pem",                  // macOS, Alpine
}

type multiFlag map[string]string

func (m multiFlag) String() string { return fmt.Sprint(map[string]string(m)) }
func (m multiFlag) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok {
		return errors.New("want KEY=VALUE")
	}
	m[k] = v
	return nil
}

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "image:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("image", flag.ContinueOnError)
	binaries, buildArgs := multiFlag{}, multiFlag{}
	fs.Var(binaries, "binary", "OS/ARCH=PATH of a static issuer binary (repeatable)")
	fs.Var(buildArgs, "build-arg", "NAME=VALUE for the Dockerfile's LABELs (repeatable); CREATED is set from SOURCE_DATE_EPOCH")
	out := fs.String("out", "", "output directory (required)")
	name := fs.String("name", "", "image reference (default: the chart's image.repository:appVersion)")
	chart := fs.String("chart", "deploy/charts/aliyun-cas-issuer", "the Helm chart whose default image this is")
	dockerfile := fs.String("dockerfile", "Dockerfile", "the Dockerfile whose final stage this image reproduces")
	caBundle := fs.String("ca-bundle", "", "PEM file of CA certificates (default: the build machine's trust store)")
	printName := fs.Bool("print-name", false, "print the image reference and exit")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *name == "" {
		var err error
		if *name, err = chartImage(*chart); err != nil {
			return err
		}
	}
	if *printName {
		fmt.Println(*name)
		return nil
	}
	if *out == "" || len(binaries) == 0 {
		return errors.New("-out and at least one -binary are required")
	}
	created, err := sourceDateEpoch()
	if err != nil {
		return err
	}
	spec, err := readDockerfile(*dockerfile)
	if err != nil {
		return err
	}
	buildArgs["CREATED"] = created.UTC().Format(time.RFC3339)
	if spec.Labels, err = expandLabels(spec.Labels, buildArgs); err != nil {
		return err
	}
	if *caBundle == "" {
		if *caBundle, err = findCABundle(); err != nil {
			return err
		}
	}
	b := build{Name: *name, Binaries: binaries, CABundle: *caBundle, Spec: spec, Created: created}
	img, err := b.assemble()
	if err != nil {
		return err
	}
	files, err := img.layoutFiles()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*out, 0o755); err != nil {
		return err
	}
	if err := writeLayout(filepath.Join(*out, layoutName), files); err != nil {
		return err
	}
	if err := writeTarball(filepath.Join(*out, tarballName), files, created); err != nil {
		return err
	}
	doc, err := sbom(binaries[img.Platforms[0]], buildArgs["VERSION"], *name, img.Index.Digest, created)
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, sbomName), doc, 0o644); err != nil {
		return err
	}
	fmt.Printf("image %s@%s (%s)\n  layout  %s\n  tarball %s\n  sbom    %s\n", *name, img.Index.Digest,
		strings.Join(img.Platforms, ", "), filepath.Join(*out, layoutName), filepath.Join(*out, tarballName), filepath.Join(*out, sbomName))
	return nil
}

// chartImage is the image the chart deploys by default.
func chartImage(chart string) (string, error) {
	var meta struct {
		AppVersion string `json:"appVersion"`
	}
	var values struct {
		Image struct {
			Repository string `json:"repository"`
			Tag        string `json:"tag"`
		} `json:"image"`
	}
	for file, into := range map[string]any{"Chart.yaml": &meta, "values.yaml": &values} {
		b, err := os.ReadFile(filepath.Join(chart, file))
		if err != nil {
			return "", err
		}
		if err := yaml.Unmarshal(b, into); err != nil {
			return "", fmt.Errorf("%s: %w", file, err)
		}
	}
	tag := values.Image.Tag
	if tag == "" {
		tag = meta.AppVersion
	}
	if values.Image.Repository == "" || tag == "" {
		return "", fmt.Errorf("%s: no default image.repository or appVersion", chart)
	}
	return values.Image.Repository + ":" + tag, nil
}

// sourceDateEpoch reads SOURCE_DATE_EPOCH (reproducible-builds.org), the
// Unix time every timestamp of the image takes.
func sourceDateEpoch() (time.Time, error) {
	v := os.Getenv("SOURCE_DATE_EPOCH")
	if v == "" {
		return time.Time{}, errors.New("SOURCE_DATE_EPOCH is not set (make image sets it to the commit time)")
	}
	sec, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", v, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}

func findCABundle() (string, error) {
	for _, p := range caBundles {
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	return "", fmt.Errorf("no CA bundle found in %v: pass -ca-bundle", caBundles)
}
