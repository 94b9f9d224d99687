package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
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
	EmptyListings     int        `json:"emptyListings,omitempty"`
	// The subscription-instance flow's own bookkeeping.
	PreviousCertificateID string `json:"previousCertificateID,omitempty"`
	CSRDigest             string `json:"csrDigest,omitempty"`
	Submitted             bool   `json:"submitted,omitempty"`
	// What the order was placed with (orderorigin.go).
	OrderAPI string `json:"orderAPI,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
}

// loadState reads the order state from a request's annotations. Unparsable
// values are kept as "something may exist" rather than dropped: a creating
// time that cannot be parsed still means a create may have happened.
func loadState(obj metav1.Object) signer.OrderState {
	a := obj.GetAnnotations()
	var rest stateRest
	if v := a[v1alpha1.AnnotationOrderState]; v != "" {
		_ = json.Unmarshal([]byte(v), &rest)
	}
	st := signer.OrderState{
		OrderID:           a[v1alpha1.AnnotationOrderID],
		InstanceID:        a[v1alpha1.AnnotationInstanceID],
		OrderedAt:         rest.OrderedAt,
		ValidationRecords: rest.ValidationRecords,
		EmptyListings:     rest.EmptyListings,

		PreviousCertificateID: rest.PreviousCertificateID,
		CSRDigest:             rest.CSRDigest,
		Submitted:             rest.Submitted,
		OrderAPI:              rest.OrderAPI,
		Endpoint:              rest.Endpoint,
	}
	if v, ok := a[v1alpha1.AnnotationCreating]; ok {
		t, err := time.Parse(time.RFC3339, v)
		if err != nil {
			// Unknown time: the request's creation is a safe lower bound.
			t = obj.GetCreationTimestamp().Time
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
func storeState(obj metav1.Object, st signer.OrderState) {
	a := obj.GetAnnotations()
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
	r := stateRest{OrderedAt: st.OrderedAt, ValidationRecords: st.ValidationRecords, EmptyListings: st.EmptyListings,
		PreviousCertificateID: st.PreviousCertificateID, CSRDigest: st.CSRDigest, Submitted: st.Submitted,
		OrderAPI: st.OrderAPI, Endpoint: st.Endpoint}
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
	obj.SetAnnotations(a)
}

// requestObject is a kind of request whose order state lives in its
// annotations: a CertificateRequest or a CertificateSigningRequest.
type requestObject[T any] interface {
	*T
	client.Object
}

// requestStore is the signer.StateStore of one CertificateRequest.
type requestStore = objectStore[cmapi.CertificateRequest, *cmapi.CertificateRequest]

// objectStore is the signer.StateStore of one request: Save merge-patches
// the annotations (and, while a remote order may exist, the cancel-order
// finalizer) and keeps the in-memory request current, so that later status
// patches build on what the API server holds. Learn keeps the state for
// the attempt's next write of the request (its status, with the mirror, or
// the finalizer's removal), which the attempt makes anyway.
type objectStore[T any, P requestObject[T]] struct {
	client client.Client
	reader client.Reader // uncached, for re-reads after a conflict
	key    stateKey
	obj    P
	// origin is what an order of this request is placed with, recorded
	// with every state that holds something remote.
	origin orderOrigin
	// current is the request's order state as this attempt knows it: the
	// trusted state it started from, then what the signer saved or
	// learned. learned says current is not written anywhere yet.
	current signer.OrderState
	learned bool
}

var _ signer.StateStore = (*requestStore)(nil)

// Save persists st before the signer goes on; an error stops the signer
// before its remote call.
func (s *objectStore[T, P]) Save(ctx context.Context, st signer.OrderState) error {
	err := s.save(ctx, st)
	if apierrors.IsConflict(err) {
		// The finalizer list is replaced as a whole, so that patch is
		// guarded by the resourceVersion: re-read and try once more.
		fresh := P(new(T))
		if gerr := s.reader.Get(ctx, client.ObjectKeyFromObject(s.obj), fresh); gerr != nil {
			return fmt.Errorf("saving order state: %w", gerr)
		}
		*s.obj = *fresh
		err = s.save(ctx, st)
	}
	if err != nil {
		return fmt.Errorf("saving order state on the %s: %w", reflect.TypeFor[T]().Name(), err)
	}
	s.current, s.learned = s.origin.stamp(st), false
	return nil
}

// Learn keeps st, learned from an answer, for the attempt's next write.
func (s *objectStore[T, P]) Learn(st signer.OrderState) {
	s.current, s.learned = s.origin.stamp(st), true
}

// saveLearned writes learned state that no other write of the attempt
// carries (a pending step left unwritten, a request without a status
// mirror, a status write that failed).
func (s *objectStore[T, P]) saveLearned(ctx context.Context) error {
	if !s.holdsLearned() {
		return nil
	}
	return s.Save(ctx, s.current)
}

// holdsLearned reports whether the store holds state written nowhere yet.
func (s *objectStore[T, P]) holdsLearned() bool { return s != nil && s.learned }

// carried records that a write of the attempt carried the learned state
// (the status mirror).
func (s *objectStore[T, P]) carried() {
	if s != nil {
		s.learned = false
	}
}

// saveLearnedAfterLostWrite saves the learned state when the write meant to
// carry it failed; a failure here only costs a look-up by the next attempt,
// so it is logged, and the write's own error is what the attempt returns.
func (s *objectStore[T, P]) saveLearnedAfterLostWrite(ctx context.Context) {
	if err := s.saveLearned(ctx); err != nil {
		ctrl.LoggerFrom(ctx).Info("order state learned from Alibaba Cloud not recorded; the next attempt looks the order up", "error", err.Error())
	}
}

func (s *objectStore[T, P]) save(ctx context.Context, st signer.OrderState) error {
	before := s.obj.DeepCopyObject().(P)
	s.key.storeTrusted(s.obj, s.origin.stamp(st))
	var patch client.Patch = client.MergeFrom(before)
	if !stateEmpty(st) && !controllerutil.ContainsFinalizer(s.obj, v1alpha1.FinalizerCancelOrder) {
		controllerutil.AddFinalizer(s.obj, v1alpha1.FinalizerCancelOrder)
		patch = client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})
	}
	if err := s.client.Patch(ctx, s.obj, patch); err != nil {
		*s.obj = *before
		return err
	}
	return nil
}

// finishRequest removes the finalizer of a request that is done with its
// order and, in the same patch, brings its annotations up to st, the state
// it ended in (state learned and carried so far by the status mirror
// alone, or not written at all). Nothing is written when neither changes.
func finishRequest[T any, P requestObject[T]](ctx context.Context, c client.Client, key stateKey, obj P, st signer.OrderState) error {
	before := obj.DeepCopyObject().(P)
	if _, trust := key.load(obj); trust != stateAbsent || !stateEmpty(st) {
		// The same state stores as the same annotations, MAC included.
		key.storeTrusted(obj, st)
	}
	controllerutil.RemoveFinalizer(obj, v1alpha1.FinalizerCancelOrder)
	if reflect.DeepEqual(before.GetAnnotations(), obj.GetAnnotations()) && reflect.DeepEqual(before.GetFinalizers(), obj.GetFinalizers()) {
		return nil
	}
	if err := c.Patch(ctx, obj, client.MergeFromWithOptions(before, client.MergeFromWithOptimisticLock{})); err != nil {
		*obj = *before
		return err
	}
	return nil
}
