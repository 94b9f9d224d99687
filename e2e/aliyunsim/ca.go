package aliyunsim

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// ca is the simulator's certificate authority: a root and an intermediate that signs the
// leaves, so that clients see the chain shape a public CA gives (leaf + intermediate, root
// trusted out of band through GET /_sim/ca.pem).
type ca struct {
	root     *x509.Certificate
	rootPEM  []byte
	inter    *x509.Certificate
	interKey crypto.Signer
	interPEM []byte
	// rootKey lets Start re-sign the intermediate with an Authority
	// Information Access URL for the root, as public CAs publish theirs.
	rootKey   crypto.Signer
	serialsMu sync.Mutex
	serials   map[string]bool
}

var caFiles = []string{"ca.pem", "ca-key.pem", "intermediate.pem", "intermediate-key.pem"}

// loadOrCreateCA loads the CA from dir when its four files are there, and otherwise creates
// one (written to dir when dir is set and holds none of the files). ECDSA P-256 keeps start-up
// fast.
func loadOrCreateCA(dir string, now time.Time) (*ca, error) {
	if dir != "" {
		present := 0
		for _, f := range caFiles {
			if _, err := os.Stat(filepath.Join(dir, f)); err == nil {
				present++
			} else if !errors.Is(err, fs.ErrNotExist) {
				return nil, fmt.Errorf("aliyunsim: CA dir: %v", err)
			}
		}
		switch present {
		case len(caFiles):
			return loadCA(dir)
		case 0:
		default:
			return nil, fmt.Errorf("aliyunsim: CA dir %s holds only some of %v", dir, caFiles)
		}
	}
	c, rootKey, err := newCA(now)
	if err != nil {
		return nil, err
	}
	if dir != "" {
		if err := c.write(dir, rootKey); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func newCA(now time.Time) (*ca, crypto.Signer, error) {
	rootKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	interKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	start := now.Add(-time.Hour).UTC().Truncate(time.Second)
	rootTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "aliyunsim Root CA", Organization: []string{"aliyunsim"}},
		NotBefore:             start,
		NotAfter:              start.AddDate(20, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	rootDER, err := x509.CreateCertificate(rand.Reader, rootTmpl, rootTmpl, rootKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	root, _ := x509.ParseCertificate(rootDER)
	interTmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: "aliyunsim DV TLS CA", Organization: []string{"aliyunsim"}},
		NotBefore:             start,
		NotAfter:              start.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	interDER, err := x509.CreateCertificate(rand.Reader, interTmpl, root, interKey.Public(), rootKey)
	if err != nil {
		return nil, nil, err
	}
	inter, _ := x509.ParseCertificate(interDER)
	return &ca{
		root: root, rootPEM: pemBlock("CERTIFICATE", rootDER),
		inter: inter, interKey: interKey, interPEM: pemBlock("CERTIFICATE", interDER),
		rootKey: rootKey, serials: map[string]bool{},
	}, rootKey, nil
}

func (c *ca) write(dir string, rootKey crypto.Signer) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("aliyunsim: CA dir: %v", err)
	}
	rootKeyDER, err := x509.MarshalPKCS8PrivateKey(rootKey)
	if err != nil {
		return err
	}
	interKeyDER, err := x509.MarshalPKCS8PrivateKey(c.interKey)
	if err != nil {
		return err
	}
	files := map[string][]byte{
		"ca.pem":               c.rootPEM,
		"ca-key.pem":           pemBlock("PRIVATE KEY", rootKeyDER),
		"intermediate.pem":     c.interPEM,
		"intermediate-key.pem": pemBlock("PRIVATE KEY", interKeyDER),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return fmt.Errorf("aliyunsim: writing CA: %v", err)
		}
	}
	return nil
}

func loadCA(dir string) (*ca, error) {
	read := func(name string) ([]byte, error) {
		data, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, fmt.Errorf("aliyunsim: CA dir: %v", err)
		}
		return data, nil
	}
	var data [4][]byte
	for i, f := range caFiles {
		d, err := read(f)
		if err != nil {
			return nil, err
		}
		data[i] = d
	}
	root, err := parseCertPEM(data[0])
	if err != nil {
		return nil, fmt.Errorf("aliyunsim: ca.pem: %v", err)
	}
	rootKey, err := parseKeyPEM(data[1])
	if err != nil {
		return nil, fmt.Errorf("aliyunsim: ca-key.pem: %v", err)
	}
	inter, err := parseCertPEM(data[2])
	if err != nil {
		return nil, fmt.Errorf("aliyunsim: intermediate.pem: %v", err)
	}
	interKey, err := parseKeyPEM(data[3])
	if err != nil {
		return nil, fmt.Errorf("aliyunsim: intermediate-key.pem: %v", err)
	}
	if !publicKeysEqual(root.PublicKey, rootKey.Public()) || !publicKeysEqual(inter.PublicKey, interKey.Public()) {
		return nil, fmt.Errorf("aliyunsim: CA dir %s: a certificate does not match its key", dir)
	}
	if err := inter.CheckSignatureFrom(root); err != nil {
		return nil, fmt.Errorf("aliyunsim: CA dir %s: the intermediate is not signed by the root: %v", dir, err)
	}
	return &ca{
		root: root, rootPEM: pemBlock("CERTIFICATE", root.Raw),
		inter: inter, interKey: interKey, interPEM: pemBlock("CERTIFICATE", inter.Raw),
		rootKey: rootKey, serials: map[string]bool{},
	}, nil
}

// publishRoot re-signs the intermediate (same key, same subject) with an
// Authority Information Access "CA Issuers" URL where the root is served, as
// public CAs do: clients that get leaf + intermediate can fetch the root.
// It runs before any leaf is issued.
func (c *ca) publishRoot(url string) error {
	tmpl := *c.inter
	tmpl.IssuingCertificateURL = []string{url}
	der, err := x509.CreateCertificate(rand.Reader, &tmpl, c.root, c.interKey.Public(), c.rootKey)
	if err != nil {
		return err
	}
	inter, err := x509.ParseCertificate(der)
	if err != nil {
		return err
	}
	c.inter, c.interPEM = inter, pemBlock("CERTIFICATE", der)
	return nil
}

// issue signs a leaf for pub covering names, valid from now for validity. The CN is cn.
func (c *ca) issue(pub crypto.PublicKey, cn string, names []string, ips []net.IP, validity time.Duration, now time.Time) (*x509.Certificate, error) {
	usage := x509.KeyUsageDigitalSignature
	if _, isRSA := pub.(*rsa.PublicKey); isRSA {
		usage |= x509.KeyUsageKeyEncipherment
	}
	// Public CAs backdate a little to absorb clock skew on the relying party.
	start := now.Add(-time.Minute).UTC().Truncate(time.Second)
	end := start.Add(validity)
	if end.After(c.inter.NotAfter) {
		end = c.inter.NotAfter
	}
	tmpl := &x509.Certificate{
		SerialNumber:          c.uniqueSerial(),
		Subject:               pkix.Name{CommonName: cn},
		DNSNames:              names,
		IPAddresses:           ips,
		NotBefore:             start,
		NotAfter:              end,
		KeyUsage:              usage,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.inter, pub, c.interKey)
	if err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// uniqueSerial draws 128-bit serials until one is new: a CA never reuses a serial.
func (c *ca) uniqueSerial() *big.Int {
	c.serialsMu.Lock()
	defer c.serialsMu.Unlock()
	for {
		s := randomSerial()
		if !c.serials[s.String()] {
			c.serials[s.String()] = true
			return s
		}
	}
}

func randomSerial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return n.Add(n, big.NewInt(1))
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

func parseCertPEM(data []byte) (*x509.Certificate, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "CERTIFICATE" {
		return nil, errors.New("no CERTIFICATE PEM block")
	}
	return x509.ParseCertificate(block.Bytes)
}

// parseKeyPEM reads a private key in PKCS#8, PKCS#1 or SEC 1 form.
func parseKeyPEM(data []byte) (crypto.Signer, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("no PEM block")
	}
	switch block.Type {
	case "RSA PRIVATE KEY":
		return x509.ParsePKCS1PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		return x509.ParseECPrivateKey(block.Bytes)
	case "PRIVATE KEY":
		k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, err
		}
		s, ok := k.(crypto.Signer)
		if !ok {
			return nil, errors.New("unsupported private key type")
		}
		return s, nil
	}
	return nil, fmt.Errorf("unexpected PEM block %q", block.Type)
}

func publicKeysEqual(a, b crypto.PublicKey) bool {
	ea, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && ea.Equal(b)
}

// keyPool keeps a few RSA 2048 keys ready: orders whose key Alibaba generates (DV instances,
// CreateCertificateRequest) would otherwise stall the state lock for ~100 ms per issuance. It
// starts filling on first use, so tests that never need one spend no CPU on it.
type keyPool struct {
	once sync.Once
	keys chan *rsa.PrivateKey
	stop chan struct{}
}

const keyPoolSize = 3

func newKeyPool() *keyPool {
	return &keyPool{keys: make(chan *rsa.PrivateKey, keyPoolSize), stop: make(chan struct{})}
}

// warm starts the background filler (idempotent).
func (p *keyPool) warm() {
	p.once.Do(func() {
		go func() {
			for {
				k, err := rsa.GenerateKey(rand.Reader, 2048)
				if err != nil {
					return
				}
				select {
				case p.keys <- k:
				case <-p.stop:
					return
				}
			}
		}()
	})
}

// get returns a pooled key, or generates one when the pool is empty.
func (p *keyPool) get() (*rsa.PrivateKey, error) {
	p.warm()
	select {
	case k := <-p.keys:
		return k, nil
	default:
		return rsa.GenerateKey(rand.Reader, 2048)
	}
}

func (p *keyPool) close() {
	p.once.Do(func() {}) // a pool never warmed must not start filling after close
	close(p.stop)
}

// servingCert is a TLS certificate for the simulator's own HTTPS listener: the listening
// address, loopback, and the Alibaba endpoint names clients may be pointed at.
func (c *ca) servingCert(addr net.Addr, now time.Time) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	names := []string{"localhost", "*.aliyuncs.com"}
	ips := []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	if tcp, ok := addr.(*net.TCPAddr); ok && !tcp.IP.IsUnspecified() && !tcp.IP.IsLoopback() {
		ips = append(ips, tcp.IP)
	}
	leaf, err := c.issue(key.Public(), "aliyunsim", names, ips, 365*24*time.Hour, now)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{leaf.Raw, c.inter.Raw}, PrivateKey: key, Leaf: leaf}, nil
}
