package controllers

import (
	"context"
	"fmt"
	"sync"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// ReasonIssuerNotFound: the sync's issuerRef names no issuer.
const ReasonIssuerNotFound = "IssuerNotFound"

// uploaderSource hands out one Uploader per issuer configuration and upload
// API, so that all syncs of an issuer share its client's rate limit. The
// issuer's credentials are resolved by the signer source, the one place
// that turns an issuer and its Secret into a signer.Config.
type uploaderSource struct {
	client  client.Client
	signers *signerSource
	opts    Options

	mu      sync.Mutex
	entries map[string]*uploaderEntry // by issuerKey + "/" + API
}

type uploaderEntry struct {
	key      string // the signer entry's key: issuer generation and Secret version
	uploader signer.Uploader
	secrets  []string
}

func newUploaderSource(c client.Client, signers *signerSource, opts Options) *uploaderSource {
	return &uploaderSource{client: c, signers: signers, opts: opts, entries: map[string]*uploaderEntry{}}
}

// issuerFor reads the issuer a sync names (from the cache).
func (u *uploaderSource) issuerFor(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync) (v1alpha1.GenericIssuer, error) {
	kind := s.Spec.IssuerRef.Kind
	if kind == "" { // the API default
		kind = issuerKind
	}
	iss := v1alpha1.NewIssuer(kind)
	if iss == nil {
		return nil, signer.Issuer(ReasonIssuerNotFound, fmt.Errorf("issuerRef.kind %q is not %s or %s", kind, issuerKind, clusterIssuerKind))
	}
	key := types.NamespacedName{Name: s.Spec.IssuerRef.Name}
	if !iss.IsClusterScoped() {
		key.Namespace = s.Namespace
	}
	if err := u.client.Get(ctx, key, iss); err != nil {
		if apierrors.IsNotFound(err) {
			where := "cluster-wide"
			if key.Namespace != "" {
				where = "in namespace " + key.Namespace
			}
			return nil, signer.Issuer(ReasonIssuerNotFound, fmt.Errorf("%s %s not found %s", kind, key.Name, where))
		}
		return nil, err
	}
	return iss, nil
}

// get returns the Uploader for a sync's issuer and API, and the credential
// values to scrub from messages. Configuration problems are IssuerErrors.
func (u *uploaderSource) get(ctx context.Context, s *v1alpha1.AliyunCASCertificateSync, api string) (*uploaderEntry, error) {
	iss, err := u.issuerFor(ctx, s)
	if err != nil {
		return nil, err
	}
	// The signer entry tells when the issuer or its Secret changed, and
	// checks the configuration the same way the issuer controller does.
	se, err := u.signers.get(ctx, iss)
	if err != nil {
		return nil, err
	}
	name := issuerKey(iss.KindName(), iss.GetNamespace(), iss.GetName()) + "/" + api
	u.mu.Lock()
	if e, ok := u.entries[name]; ok && e.key == se.key {
		u.mu.Unlock()
		return e, nil
	}
	u.mu.Unlock()

	cfg, secrets, err := u.signers.config(ctx, iss)
	if err != nil {
		return nil, err
	}
	up, err := signer.NewUploader(cfg, api)
	if err != nil {
		return nil, scrubError(err, secrets)
	}
	e := &uploaderEntry{key: se.key, uploader: up, secrets: secrets}
	u.mu.Lock()
	defer u.mu.Unlock()
	if old, ok := u.entries[name]; ok && old.key == se.key {
		return old, nil
	}
	u.entries[name] = e
	return e, nil
}
