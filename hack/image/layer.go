package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"sort"
	"time"
)

// file is one entry of a layer.
type file struct {
	Path     string // without a leading slash
	Mode     int64  // permission bits, sticky included
	UID, GID int
	Data     []byte
	Dir      bool
}

// layer is a gzip-compressed tar of files, with the digests an image
// config (DiffID, of the tar) and a manifest (Digest, of the gzip) name.
type layer struct {
	Blob   []byte
	Digest string
	DiffID string
}

// buildLayer writes files in path order with one timestamp and numeric
// owners only, and gzips with an empty header: the same files give the
// same bytes on every machine.
func buildLayer(files []file, mtime time.Time) (layer, error) {
	sorted := append([]file(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, f := range sorted {
		h := &tar.Header{
			Name:    f.Path,
			Mode:    f.Mode,
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: mtime,
			Format:  tar.FormatPAX,
		}
		if f.Dir {
			h.Typeflag = tar.TypeDir
			h.Name += "/"
		} else {
			h.Typeflag = tar.TypeReg
			h.Size = int64(len(f.Data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return layer{}, err
		}
		if _, err := tw.Write(f.Data); err != nil {
			return layer{}, err
		}
	}
	if err := tw.Close(); err != nil {
		return layer{}, err
	}
	var gzBuf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gzBuf, gzip.BestCompression)
	if err != nil {
		return layer{}, err
	}
	if _, err := zw.Write(tarBuf.Bytes()); err != nil {
		return layer{}, err
	}
	if err := zw.Close(); err != nil {
		return layer{}, err
	}
	return layer{Blob: gzBuf.Bytes(), Digest: digest(gzBuf.Bytes()), DiffID: digest(tarBuf.Bytes())}, nil
}

func digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}
