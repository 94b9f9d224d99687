package controllers

import (
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// Under load cert-manager sometimes deletes a CertificateRequest and
// creates it again, under the same name, for the same Certificate revision
// and key. The new request can only be created once the old one is gone
// (after its finalizer), so the old request's open order is handed over
// through its issuer's status: the deleted request records it there
// (authenticated with the order state key) and drops its finalizer without
// cancelling; the new request, owned by the same Certificate in the same
// namespace, for the same revision, CSR public key and names, takes it
// into its own trusted state instead of ordering again. An order nobody takes
// within Options.HandoverWait is cancelled (handover_controller.go). Each
// step is durable before the next: a crash leaves either the record or
// the new request's state, and the order is cancelled only when no live
// request holds it.

const (
	eventOrderHandedOver = "OrderHandedOver"
	eventOrderTakenOver  = "OrderTakenOver"
	// placeHandover: a MAC'd state in an issuer's status.handovers.
	placeHandover = "handover"
)

// handoverDesk serialises taking and expiring handovers in this process
// (only the leader runs the reconcilers): a request never takes an order
// the expiry is cancelling, and the expiry never cancels one being taken.
type handoverDesk struct{ mu sync.Mutex }

// handoverKey is what a successor must match.
type handoverKey struct{ namespace, owner, revision, csrDigest string }

// handoverKeyOf is the handover key of a request cert-manager made for a
// Certificate revision; ok is false for any other request.
func handoverKeyOf(cr *cmapi.CertificateRequest) (handoverKey, bool) {
	owner := metav1.GetControllerOf(cr)
	rev := cr.Annotations[cmapi.CertificateRequestRevisionAnnotationKey]
	if owner == nil || owner.Kind != cmapi.CertificateKind || owner.UID == "" || rev == "" {
		return handoverKey{}, false
	}
	d, err := csrDigest(cr.Spec.Request)
	if err != nil {
		return handoverKey{}, false
	}
	return handoverKey{namespace: cr.Namespace, owner: string(owner.UID), revision: rev, csrDigest: d}, true
}

func recordKey(rec v1alpha1.OrderHandover) handoverKey {
	return handoverKey{namespace: rec.Namespace, owner: rec.Owner, revision: rec.Revision, csrDigest: rec.CSRDigest}
}

// csrDigest is the SHA-256 of a PEM CSR's public key and of the names it
// asks for: a Certificate edited to other names keeps its revision and
// key, and its new request must not take the old names' order.
func csrDigest(csrPEM []byte) (string, error) {
	b, _ := pem.Decode(csrPEM)
	if b == nil {
		return "", errors.New("no PEM block")
	}
	csr, err := x509.ParseCertificateRequest(b.Bytes)
	if err != nil {
		return "", err
	}
	names := []string{"CN=" + csr.Subject.CommonName}
	for _, n := range csr.DNSNames {
		names = append(names, "DNS="+n)
	}
	for _, ip := range csr.IPAddresses {
		names = append(names, "IP="+ip.String())
	}
	for _, u := range csr.URIs {
		names = append(names, "URI="+u.String())
	}
	for _, e := range csr.EmailAddresses {
		names = append(names, "Email="+e)
	}
	slices.Sort(names)
	h := sha256.New()
	h.Write(csr.RawSubjectPublicKeyInfo)
	for _, n := range names {
		h.Write([]byte("\x00" + n))
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil)), nil
}

func (k stateKey) handoverMAC(h handoverKey, uid string, st signer.OrderState) string {
	return k.sum(placeHandover, uid, "OrderHandover", h.namespace+"/"+h.owner+"/"+h.revision+"/"+h.csrDigest, st)
}

// handoverRecord is the record of a deleted request's open order.
func (k stateKey) handoverRecord(cr *cmapi.CertificateRequest, h handoverKey, st signer.OrderState, since time.Time) v1alpha1.OrderHandover {
	st = secondsOnly(st)
	b, _ := json.Marshal(st)
	return v1alpha1.OrderHandover{
		UID: string(cr.UID), Request: cr.Namespace + "/" + cr.Name,
		Namespace: h.namespace, Owner: h.owner, Revision: h.revision, CSRDigest: h.csrDigest,
		State: string(b), MAC: k.handoverMAC(h, string(cr.UID), st), Since: metav1.NewTime(since),
	}
}

// handoverState is a record's state, when the controller wrote it.
func (k stateKey) handoverState(rec v1alpha1.OrderHandover) (signer.OrderState, bool) {
	var st signer.OrderState
	if err := json.Unmarshal([]byte(rec.State), &st); err != nil {
		return signer.OrderState{}, false
	}
	st = secondsOnly(st)
	if !k.valid(rec.MAC, k.handoverMAC(recordKey(rec), rec.UID, st)) || stateEmpty(st) {
		return signer.OrderState{}, false
	}
	return st, true
}

// openOrder reports whether st holds an order that is not settled.
func openOrder(st signer.OrderState) bool {
	return st.OrderID != "" || st.InstanceID != "" || st.Creating != nil
}

// handOver records the open order of a deleted, unfinished request on its
// issuer for its successor; handed is false when the request is not one
// (or has no issuer any more). The caller then drops the finalizer
// without cancelling.
func (a *attempt) handOver(ctx context.Context, st signer.OrderState) (handed bool, err error) {
	cr := a.cr
	if cr.DeletionTimestamp == nil || isTerminal(cr) || keyAdopted(cr) || !openOrder(st) {
		return false, nil
	}
	h, ok := handoverKeyOf(cr)
	if !ok {
		return false, nil
	}
	iss, err := a.r.getIssuer(ctx, cr)
	if apierrors.IsNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	a.iss = iss
	rec := a.r.key.handoverRecord(cr, h, st, cr.DeletionTimestamp.Time)
	err = editHandovers(ctx, a.r.Client, a.r.APIReader, iss, func(l []v1alpha1.OrderHandover) []v1alpha1.OrderHandover {
		for _, o := range l {
			if o.UID == rec.UID {
				return l
			}
		}
		return append(l, rec)
	})
	if err != nil {
		return false, err
	}
	a.r.event(cr, iss, "Normal", eventOrderHandedOver, actionCancel, fmt.Sprintf(
		"%s is kept for the request cert-manager creates again for this Certificate revision and key; it is cancelled if none takes it over within %s",
		st.Name(), a.r.opts.HandoverWait))
	return true, nil
}

// takeHandover gives a request without state the open order a deleted
// request of the same Certificate, revision and key handed over, if any:
// recorded first in the request's own trusted state (with the finalizer),
// then removed from the issuer.
func (a *attempt) takeHandover(ctx context.Context) error {
	h, ok := handoverKeyOf(a.cr)
	if !ok {
		return nil
	}
	// Uncached: the record was written a moment before this request could
	// be created. Only a match is worth the lock.
	iss, err := freshIssuer(ctx, a.r.APIReader, a.iss)
	if err != nil {
		return signer.Transient(signer.ReasonOrderLookup, 0, fmt.Errorf("reading the handovers of issuer %s: %w", a.iss.GetName(), err))
	}
	if _, _, ok := a.findHandover(iss, h); !ok {
		return nil
	}
	desk := a.r.desk
	desk.mu.Lock()
	defer desk.mu.Unlock()
	if iss, err = freshIssuer(ctx, a.r.APIReader, a.iss); err != nil {
		return signer.Transient(signer.ReasonOrderLookup, 0, fmt.Errorf("reading the handovers of issuer %s: %w", a.iss.GetName(), err))
	}
	rec, st, ok := a.findHandover(iss, h)
	if !ok {
		return nil
	}
	before := a.cr.DeepCopy()
	a.r.key.storeTrusted(a.cr, st)
	controllerutil.AddFinalizer(a.cr, v1alpha1.FinalizerCancelOrder)
	if err := a.r.Client.Patch(ctx, a.cr, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		*a.cr = *before
		return err
	}
	a.state = st
	if err := editHandovers(ctx, a.r.Client, a.r.APIReader, iss, dropHandover(rec.UID)); err != nil {
		// Left for the expiry, which sees that this request holds it.
		return signer.Transient(signer.ReasonStateNotSaved, 0, fmt.Errorf("removing the handover of %s from issuer %s: %w", rec.Request, iss.GetName(), err))
	}
	a.r.event(a.cr, iss, "Normal", eventOrderTakenOver, actionSign, fmt.Sprintf(
		"took over %s of the deleted request %s (same Certificate, revision and key): nothing is ordered again", st.Name(), rec.Request))
	return nil
}

// findHandover is the record on iss, and its state, that a request of
// handover key h may take: written by the controller, of another request,
// not yet due for cancelling.
func (a *attempt) findHandover(iss v1alpha1.GenericIssuer, h handoverKey) (v1alpha1.OrderHandover, signer.OrderState, bool) {
	now := time.Now()
	for _, rec := range iss.GetStatus().Handovers {
		if recordKey(rec) != h || rec.UID == string(a.cr.UID) || !now.Before(rec.Since.Add(a.r.opts.HandoverWait)) {
			continue
		}
		if st, ok := a.r.key.handoverState(rec); ok {
			return rec, st, true
		}
	}
	return v1alpha1.OrderHandover{}, signer.OrderState{}, false
}

// dropHandover removes the record of request uid.
func dropHandover(uid string) func([]v1alpha1.OrderHandover) []v1alpha1.OrderHandover {
	return func(l []v1alpha1.OrderHandover) []v1alpha1.OrderHandover {
		out := l[:0:0]
		for _, o := range l {
			if o.UID != uid {
				out = append(out, o)
			}
		}
		return out
	}
}

// freshIssuer reads iss from the API server.
func freshIssuer(ctx context.Context, r client.Reader, iss v1alpha1.GenericIssuer) (v1alpha1.GenericIssuer, error) {
	fresh, _ := iss.DeepCopyObject().(v1alpha1.GenericIssuer)
	if err := r.Get(ctx, client.ObjectKeyFromObject(iss), fresh); err != nil {
		return nil, err
	}
	return fresh, nil
}

// editHandovers changes an issuer's status.handovers (read fresh, written
// with an optimistic lock, retried on conflict).
func editHandovers(ctx context.Context, c client.Client, r client.Reader, iss v1alpha1.GenericIssuer, edit func([]v1alpha1.OrderHandover) []v1alpha1.OrderHandover) error {
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		fresh, err := freshIssuer(ctx, r, iss)
		if err != nil {
			return err
		}
		base, _ := fresh.DeepCopyObject().(v1alpha1.GenericIssuer)
		st := fresh.GetStatus()
		st.Handovers = edit(st.Handovers)
		if len(st.Handovers) == len(base.GetStatus().Handovers) && equalHandovers(st.Handovers, base.GetStatus().Handovers) {
			return nil
		}
		return c.Status().Patch(ctx, fresh, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
	})
}

func equalHandovers(x, y []v1alpha1.OrderHandover) bool {
	for i := range x {
		if x[i].UID != y[i].UID {
			return false
		}
	}
	return true
}
