package main

import (
	"debug/elf"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"
)

// build describes one image index to assemble.
type build struct {
	// Name is the full reference, e.g. ghcr.io/org/repo:tag.
	Name string
	// Binaries maps "os/arch" to the static issuer binary for it.
	Binaries map[string]string
	// CABundle is a PEM file of CA certificates.
	CABundle string
	Spec     runtimeSpec
	// Created stamps every file, the configs and the SBOM.
	Created time.Time
}

// image is an assembled image index and its blobs, by digest.
type image struct {
	Index      descriptor
	Blobs      map[string][]byte
	Platforms  []string
	RefName    string
	ImageIndex index
}

// Keep in sync with the Dockerfile's base: distroless/static's accounts.
const passwd = "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"
const group = "root:x:0:\nnonroot:x:65532:\n"

// caPath is where Go's crypto/x509 looks first on Linux.
const caPath = "etc/ssl/certs/ca-certificates.crt"

func (b build) assemble() (*image, error) {
	uid, gid, err := parseUser(b.Spec.User)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(b.CABundle)
	if err != nil {
		return nil, err
	}
	if !strings.Contains(string(ca), "-----BEGIN CERTIFICATE-----") {
		return nil, fmt.Errorf("%s holds no PEM certificate", b.CABundle)
	}
	created := b.Created.UTC()
	base, err := buildLayer([]file{
		{Path: "etc", Dir: true, Mode: 0o755},
		{Path: "etc/passwd", Mode: 0o644, Data: []byte(passwd)},
		{Path: "etc/group", Mode: 0o644, Data: []byte(group)},
		{Path: "etc/ssl", Dir: true, Mode: 0o755},
		{Path: "etc/ssl/certs", Dir: true, Mode: 0o755},
		{Path: caPath, Mode: 0o644, Data: ca},
		{Path: "home", Dir: true, Mode: 0o755},
		{Path: "home/nonroot", Dir: true, Mode: 0o700, UID: uid, GID: gid},
		{Path: "tmp", Dir: true, Mode: 0o1777},
	}, created)
	if err != nil {
		return nil, err
	}
	img := &image{Blobs: map[string][]byte{base.Digest: base.Blob}, RefName: b.Name}
	for p := range b.Binaries {
		img.Platforms = append(img.Platforms, p)
	}
	sort.Strings(img.Platforms)
	idx := index{SchemaVersion: 2, MediaType: mediaTypeIndex}
	for _, p := range img.Platforms {
		goos, goarch, _ := strings.Cut(p, "/")
		bin, err := readStaticBinary(b.Binaries[p], goarch)
		if err != nil {
			return nil, err
		}
		app, err := buildLayer([]file{{Path: strings.TrimPrefix(b.Spec.Entrypoint[0], "/"), Mode: 0o755, Data: bin}}, created)
		if err != nil {
			return nil, err
		}
		img.Blobs[app.Digest] = app.Blob
		stamp := created.Format(time.RFC3339)
		cfg := imageConfig{
			Created: stamp, Architecture: goarch, OS: goos,
			Config: runtimeConfig{
				User:       b.Spec.User,
				Entrypoint: b.Spec.Entrypoint,
				Env:        []string{"PATH=/", "SSL_CERT_FILE=/" + caPath},
				WorkingDir: "/",
				Labels:     b.Spec.Labels,
			},
			RootFS: rootFS{Type: "layers", DiffIDs: []string{base.DiffID, app.DiffID}},
			History: []history{
				{Created: stamp, CreatedBy: "hack/image: CA certificates, passwd and group"},
				{Created: stamp, CreatedBy: "hack/image: " + b.Spec.Entrypoint[0]},
			},
		}
		cfgDesc, err := img.add(mediaTypeConfig, cfg)
		if err != nil {
			return nil, err
		}
		man := manifest{
			SchemaVersion: 2, MediaType: mediaTypeManifest, Config: cfgDesc,
			Layers: []descriptor{
				{MediaType: mediaTypeLayer, Digest: base.Digest, Size: int64(len(base.Blob))},
				{MediaType: mediaTypeLayer, Digest: app.Digest, Size: int64(len(app.Blob))},
			},
		}
		manDesc, err := img.add(mediaTypeManifest, man)
		if err != nil {
			return nil, err
		}
		manDesc.Platform = &platform{Architecture: goarch, OS: goos}
		idx.Manifests = append(idx.Manifests, manDesc)
	}
	img.ImageIndex = idx
	if img.Index, err = img.add(mediaTypeIndex, idx); err != nil {
		return nil, err
	}
	return img, nil
}

// add stores a JSON document as a blob and returns its descriptor.
func (img *image) add(mediaType string, doc any) (descriptor, error) {
	b, err := json.Marshal(doc)
	if err != nil {
		return descriptor{}, err
	}
	d := digest(b)
	img.Blobs[d] = b
	return descriptor{MediaType: mediaType, Digest: d, Size: int64(len(b))}, nil
}

// parseUser reads a numeric "uid:gid" (a name would need the passwd file to
// agree, and Kubernetes' runAsNonRoot can check only numbers).
func parseUser(user string) (uid, gid int, err error) {
	u, g, _ := strings.Cut(user, ":")
	if g == "" {
		g = u
	}
	if uid, err = strconv.Atoi(u); err != nil {
		return 0, 0, fmt.Errorf("USER %q: want a numeric uid:gid", user)
	}
	if gid, err = strconv.Atoi(g); err != nil {
		return 0, 0, fmt.Errorf("USER %q: want a numeric uid:gid", user)
	}
	if uid == 0 {
		return 0, 0, fmt.Errorf("USER %q: the image must not run as root", user)
	}
	return uid, gid, nil
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// readStaticBinary returns the binary's bytes after checking it is a Linux
// executable for goarch with no dynamic loader: the base image has none.
func readStaticBinary(path, goarch string) ([]byte, error) {
	want, ok := elfMachine[goarch]
	if !ok {
		return nil, fmt.Errorf("unsupported architecture %q", goarch)
	}
	f, err := elf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return nil, fmt.Errorf("%s is built for %s, not %s", path, f.Machine, goarch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return nil, fmt.Errorf("%s is dynamically linked: build it with CGO_ENABLED=0", path)
		}
	}
	return os.ReadFile(path)
}
