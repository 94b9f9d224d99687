package main

import (
	"archive/tar"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// layoutFiles are the files of an OCI image layout (image-layout.md):
// oci-layout, index.json naming the image index, and blobs/sha256/*.
func (img *image) layoutFiles() (map[string][]byte, error) {
	ref := img.Index
	ref.Annotations = map[string]string{
		// The tag, as the spec suggests; containerd and Docker read the
		// full name from their own annotation.
		"org.opencontainers.image.ref.name": tagOf(img.RefName),
		"io.containerd.image.name":          img.RefName,
	}
	top, err := json.Marshal(index{SchemaVersion: 2, MediaType: mediaTypeIndex, Manifests: []descriptor{ref}})
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		"oci-layout": []byte(`{"imageLayoutVersion":"1.0.0"}`),
		"index.json": top,
	}
	for d, b := range img.Blobs {
		files["blobs/sha256/"+strings.TrimPrefix(d, "sha256:")] = b
	}
	return files, nil
}

func tagOf(ref string) string {
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		return ref[i+1:]
	}
	return "latest"
}

// writeLayout writes the layout as a directory (replacing it).
func writeLayout(dir string, files map[string][]byte) error {
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	for name, b := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// writeTarball writes the layout as one tar file, entries sorted and stamped
// with mtime, as `docker load`, `podman load` and `ctr import` read it.
func writeTarball(path string, files map[string][]byte, mtime time.Time) error {
	names := make([]string, 0, len(files)+2)
	for n := range files {
		names = append(names, n)
	}
	names = append(names, "blobs/", "blobs/sha256/")
	sort.Strings(names)
	out, err := os.Create(path)
	if err != nil {
		return err
	}
	tw := tar.NewWriter(out)
	for _, n := range names {
		h := &tar.Header{Name: n, ModTime: mtime, Mode: 0o644, Typeflag: tar.TypeReg, Size: int64(len(files[n])), Format: tar.FormatPAX}
		if strings.HasSuffix(n, "/") {
			h.Typeflag, h.Mode, h.Size = tar.TypeDir, 0o755, 0
		}
		if err := tw.WriteHeader(h); err != nil {
			out.Close()
			return err
		}
		if _, err := tw.Write(files[n]); err != nil {
			out.Close()
			return err
		}
	}
	if err := tw.Close(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
