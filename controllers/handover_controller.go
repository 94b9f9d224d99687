package controllers

import (
	"context"
	"fmt"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/predicate"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// handoverReconciler cancels the handed-over orders of one issuer kind
// that no request took over within Options.HandoverWait (handover.go).
type handoverReconciler struct {
	kind     string
	client   client.Client
	reader   client.Reader
	recorder events.EventRecorder
	key      stateKey
	signers  *signerSource
	opts     Options
	desk     *handoverDesk
}

func (r *handoverReconciler) setupWithManager(mgr ctrl.Manager) error {
	hasHandovers := predicate.NewPredicateFuncs(func(o client.Object) bool {
		iss, ok := o.(v1alpha1.GenericIssuer)
		return ok && len(iss.GetStatus().Handovers) > 0
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("aliyuncas-handovers-"+strings.ToLower(r.kind)).
		For(v1alpha1.NewIssuer(r.kind), builder.WithPredicates(hasHandovers)).
		WithOptions(controllerOptions(1)).
		Complete(r)
}

// Reconcile cancels the issuer's handovers that are due, and looks again
// when the next one is.
func (r *handoverReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	return quietWhenStopping(ctx)(r.reconcile(ctx, req))
}

func (r *handoverReconciler) reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	cached := v1alpha1.NewIssuer(r.kind)
	if err := r.client.Get(ctx, req.NamespacedName, cached); err != nil || len(cached.GetStatus().Handovers) == 0 {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	r.desk.mu.Lock()
	defer r.desk.mu.Unlock()
	iss, err := freshIssuer(ctx, r.reader, cached)
	if err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	var next time.Duration
	later := func(d time.Duration) {
		if next == 0 || d < next {
			next = d
		}
	}
	for _, rec := range iss.GetStatus().Handovers {
		if wait := time.Until(rec.Since.Add(r.opts.HandoverWait)); wait > 0 {
			later(wait)
			continue
		}
		done, err := r.expire(ctx, iss, rec)
		if err != nil {
			return ctrl.Result{}, err
		}
		if !done {
			later(min(r.opts.MaxRetryDelay, 30*time.Second))
			continue
		}
		if err := editHandovers(ctx, r.client, r.reader, iss, dropHandover(rec.UID)); err != nil {
			return requeueOnWriteRace(err)
		}
	}
	return ctrl.Result{RequeueAfter: next}, nil
}

// expire cancels a handover nobody took; done is false when a transient
// error leaves it for another try.
func (r *handoverReconciler) expire(ctx context.Context, iss v1alpha1.GenericIssuer, rec v1alpha1.OrderHandover) (done bool, err error) {
	log := ctrl.LoggerFrom(ctx).WithValues("request", rec.Request)
	st, ok := r.key.handoverState(rec)
	if !ok {
		// Not written by this controller: nothing to act on.
		return true, nil
	}
	held, err := r.held(ctx, rec, st)
	if err != nil || held {
		return held, err
	}
	_, c, err := r.signers.cancel(ctx, iss, nil, st, r.opts.SignTimeout)
	if err == nil {
		log.Info("cancelled a handed-over order nobody took", "what", c.Summary)
		issuerEvent(r.recorder, iss, "Normal", eventOrderCancelled, actionCancel, fmt.Sprintf(
			"no request took over %s of the deleted request %s within %s: %s", st.Name(), rec.Request, r.opts.HandoverWait, c.Summary))
		return true, nil
	}
	if retryCancel(err, rec.Since.Time, r.opts.CancelGiveUp) {
		log.Info("cancelling a handed-over order failed, will retry", "error", err.Error())
		return false, nil
	}
	issuerEvent(r.recorder, iss, "Warning", eventOrderNotCancelled, actionCancel, fmt.Sprintf(
		"%s of the deleted request %s not cancelled: %v", st.Name(), rec.Request, err))
	return true, nil
}

// held reports whether a live request holds a handover's order in its
// trusted state: by order or instance id, or (an order still being
// created has no id) by the handover key.
func (r *handoverReconciler) held(ctx context.Context, rec v1alpha1.OrderHandover, st signer.OrderState) (bool, error) {
	var l cmapi.CertificateRequestList
	if err := r.client.List(ctx, &l, client.InNamespace(rec.Namespace)); err != nil {
		return false, err
	}
	for i := range l.Items {
		o := &l.Items[i]
		if string(o.UID) == rec.UID || (isTerminal(o) && !controllerutil.ContainsFinalizer(o, v1alpha1.FinalizerCancelOrder)) {
			continue
		}
		if (st.OrderID != "" && r.key.records(o, indexRequestOrder, st.OrderID)) ||
			(st.InstanceID != "" && r.key.records(o, indexRequestInstance, st.InstanceID)) {
			return true, nil
		}
		if h, ok := handoverKeyOf(o); ok && h == recordKey(rec) {
			if own, trust := r.key.load(o); trust == stateTrusted && !stateEmpty(own) {
				return true, nil
			}
		}
	}
	return false, nil
}
