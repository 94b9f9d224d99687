package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The order state of a request lives in annotations on the request itself,
// so that it survives restarts and is visible with kubectl.

// Each field of the state has one home: the order id, the instance id and
// the creating mark have an annotation each (they are what people and
// indexes look at), and the JSON annotation holds the rest (when the order
// was placed, the validation records).

// stateRest is the part of signer.OrderState stored as JSON.
type stateRest struct {
	OrderedAt         *time.Time `json:"orderedAt,omitempty"`
	ValidationRecords []string   `json:"validationRecords,omitempty"`
	// The subscription-instance flow's own bookkeeping.
	PreviousCertificateID string `json:"previousCertificateID,omitempty"`
	CSRDigest             string `json:"csrDigest,omitempty"`
	Submitted             bool   `json:"submitted,omitempty"`
	EmptyListings         int    `json:"emptyListings,omitempty"`
}

// loadState reads the order state from a request's annotations. Unparsable
// values are kept as "something may exist" rather than dropped: a creating
// time that cannot be parsed still means a create may have happened.
func loadState(cr *cmapi.CertificateRequest) signer.OrderState {
	a := cr.GetAnnotations()
	var rest stateRest
	if v := a[v1alpha1.AnnotationOrderState]; v != "" {
		_ = json.Unmarshal([]byte(v), &rest)
	}
	st := signer.OrderState{
		OrderID:           a[v1alpha1.AnnotationOrderID],
		InstanceID:        a[v1alpha1.AnnotationInstanceID],
		OrderedAt:         rest.OrderedAt,
		ValidationRecords: rest.ValidationRecords,

		PreviousCertificateID: rest.PreviousCertificateID,
		CSRDigest:             rest.CSRDigest,
		Submitted:             rest.Submitted,
		EmptyListings:         rest.EmptyListings,
	}
	if v, ok := a[v1alpha1.AnnotationCreating]; ok {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			// Unknown time: the request's creation is a safe lower bound.
			t = cr.CreationTimestamp.Time
		}
		st.Creating = &t
	}
	return st
}

// stateEmpty reports whether a state holds nothing remote.
func stateEmpty(st signer.OrderState) bool {
	return st.OrderID == "" && st.InstanceID == "" && st.Creating == nil && len(st.ValidationRecords) == 0
}

// storeState writes st into the request's annotations (in memory).
func storeState(cr *cmapi.CertificateRequest, st signer.OrderState) {
	a := cr.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	set := func(k, v string) {
		if v == "" {
			delete(a, k)
		} else {
			a[k] = v
		}
	}
	set(v1alpha1.AnnotationOrderID, st.OrderID)
	set(v1alpha1.AnnotationInstanceID, st.InstanceID)
	creating := ""
	if st.Creating != nil {
		// Second precision, rounded down: a safe lower bound for lookups.
		creating = st.Creating.UTC().Format(time.RFC3339)
	}
	set(v1alpha1.AnnotationCreating, creating)
	rest := ""
	r := stateRest{OrderedAt: st.OrderedAt, ValidationRecords: st.ValidationRecords,
		PreviousCertificateID: st.PreviousCertificateID, CSRDigest: st.CSRDigest, Submitted: st.Submitted, EmptyListings: st.EmptyListings}
	if !reflect.ValueOf(r).IsZero() {
		if b, err := json.Marshal(r); err == nil {
			rest = string(b)
		}
	}
	set(v1alpha1.AnnotationOrderState, rest)
	// A MAC, if any, is for the state written before (see storeTrusted).
	delete(a, v1alpha1.AnnotationStateMAC)
	if len(a) == 0 {
		a = nil
	}
	cr.SetAnnotations(a)
}

// requestStore is the signer.StateStore of one CertificateRequest: Save
// merge-patches the annotations (and, while a remote order may exist, the
// cancel-order finalizer) and keeps the in-memory request current, so that
// later status patches build on what the API server holds.
type requestStore struct {
	client client.Client
	reader client.Reader // uncached, for re-reads after a conflict
	key    stateKey
	cr     *cmapi.CertificateRequest
}

var _ signer.StateStore = (*requestStore)(nil)

// Save persists st before the signer goes on; an error stops the signer
// before its remote call.
func (s *requestStore) Save(ctx context.Context, st signer.OrderState) error {
	err := s.save(ctx, st)
	if apierrors.IsConflict(err) {
		// The finalizer list is replaced as a whole, so that patch is
		// guarded by the resourceVersion: re-read and try once more.
		fresh := &cmapi.CertificateRequest{}
		if gerr := s.reader.Get(ctx, client.ObjectKeyFromObject(s.cr), fresh); gerr != nil {
			return fmt.Errorf("saving order state: %w", gerr)
		}
		*s.cr = *fresh
		err = s.save(ctx, st)
	}
	if err != nil {
		return fmt.Errorf("saving order state on the CertificateRequest: %w", err)
	}
	return nil
}

func (s *requestStore) save(ctx context.Context, st signer.OrderState) error {
	before := s.cr.DeepCopy()
	s.key.storeTrusted(s.cr, st)
	var patch client.Patch = client.MergeFrom(before)
	if !stateEmpty(st) && !controllerutil.ContainsFinalizer(s.cr, v1alpha1.FinalizerCancelOrder) {
		controllerutil.AddFinalizer(s.cr, v1alpha1.FinalizerCancelOrder)
		patch = client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	}
	if err := s.client.Patch(ctx, s.cr, patch); err != nil {
		*s.cr = *before
		return err
	}
	return nil
}

// removeFinalizer drops the cancel-order finalizer by patch.
func removeFinalizer(ctx context.Context, c client.Client, cr *cmapi.CertificateRequest) error {
	return finishRequest(ctx, c, nil, cr, nil)
}

// finishRequest removes the finalizer of an issued request and, in the same
// patch, records order state the signer had not saved yet (st, may be nil).
func finishRequest(ctx context.Context, c client.Client, key stateKey, cr *cmapi.CertificateRequest, st *signer.OrderState) error {
	if !controllerutil.ContainsFinalizer(cr, v1alpha1.FinalizerCancelOrder) && st == nil {
		return nil
	}
	before := cr.DeepCopy()
	if st != nil {
		key.storeTrusted(cr, *st)
	}
	controllerutil.RemoveFinalizer(cr, v1alpha1.FinalizerCancelOrder)
	if err := c.Patch(ctx, cr, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		*cr = *before
		return err
	}
	return nil
}
