package signer

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
)

// Chain is a certificate chain put in order: the leaf, the intermediates up
// to (not including) the root, and the root when the CA sent it.
type Chain struct {
	Leaf          *x509.Certificate
	Intermediates []*x509.Certificate
	Root          *x509.Certificate
}

// ParseChain reads PEM certificates in any order, with "\n" or "\r\n" line
// endings, and orders them from the leaf up. A self-signed certificate at
// the top of a chain of two or more is the root. Certificates that are not
// on the leaf's path, an empty input, or anything that is not a certificate
// are errors.
func ParseChain(data []byte) (*Chain, error) {
	data = bytes.ReplaceAll(data, []byte("\r\n"), []byte("\n"))
	var certs []*x509.Certificate
	rest := bytes.TrimSpace(data)
	for len(rest) > 0 {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("the certificate data has text that is not a PEM block")
		}
		if block.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("unexpected PEM block %q in the certificate chain", block.Type)
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of the chain: %w", len(certs)+1, err)
		}
		if slices.ContainsFunc(certs, c.Equal) {
			continue // a certificate sent twice counts once
		}
		certs = append(certs, c)
		rest = bytes.TrimSpace(rest)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate in the answer")
	}
	if len(certs) == 1 {
		return &Chain{Leaf: certs[0]}, nil
	}

	// The leaf is the one certificate that issued none of the others.
	isIssuer := make([]bool, len(certs))
	for i, c := range certs {
		for j, p := range certs {
			if i != j && issued(p, c) {
				isIssuer[j] = true
			}
		}
	}
	leaf := -1
	for i := range certs {
		if !isIssuer[i] {
			if leaf >= 0 {
				return nil, errors.New("the chain has more than one leaf")
			}
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, errors.New("the chain has no leaf (it loops)")
	}

	ch := &Chain{Leaf: certs[leaf]}
	used := map[int]bool{leaf: true}
	cur := certs[leaf]
	for len(used) < len(certs) {
		next := -1
		for i, p := range certs {
			if !used[i] && issued(p, cur) {
				next = i
				break
			}
		}
		if next < 0 {
			break
		}
		used[next] = true
		cur = certs[next]
		if isSelfSigned(cur) {
			ch.Root = cur
			break
		}
		ch.Intermediates = append(ch.Intermediates, cur)
	}
	if len(used) != len(certs) {
		return nil, fmt.Errorf("%d certificate(s) of the chain are not on the leaf's path", len(certs)-len(used))
	}
	return ch, nil
}

// issued reports whether parent signed child.
func issued(parent, child *x509.Certificate) bool {
	if parent == child || !bytes.Equal(child.RawIssuer, parent.RawSubject) {
		return false
	}
	return child.CheckSignatureFrom(parent) == nil
}

func isSelfSigned(c *x509.Certificate) bool {
	return bytes.Equal(c.RawIssuer, c.RawSubject) && c.CheckSignature(c.SignatureAlgorithm, c.RawTBSCertificate, c.Signature) == nil
}

func encodePEM(certs ...*x509.Certificate) []byte {
	var b bytes.Buffer
	for _, c := range certs {
		_ = pem.Encode(&b, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return b.Bytes()
}

// ChainPEM is the leaf followed by the intermediates, PEM with "\n".
func (c *Chain) ChainPEM() []byte {
	return encodePEM(append([]*x509.Certificate{c.Leaf}, c.Intermediates...)...)
}

// CAPEM is the root, PEM, or nil when the chain did not include it.
func (c *Chain) CAPEM() []byte {
	if c.Root == nil {
		return nil
	}
	return encodePEM(c.Root)
}
