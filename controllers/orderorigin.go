package controllers

import (
	"context"
	"fmt"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// An issuer may be edited while one of its orders is open: another
// orderAPI or endpoint would neither find the order (orphaned: never
// finished, never cancelled) nor know it exists (ordered again). So the
// order state records what the order was placed with, and the request
// keeps following and cancelling its order with that, using the issuer's
// current credentials (the same account is assumed: with another one the
// calls fail and the request says so). When no signer can be built for it,
// the request waits with reason IssuerChanged and nothing is ordered.

// reasonIssuerChanged: the issuer's orderAPI or endpoint is not what the
// request's open order was placed with.
const reasonIssuerChanged = "IssuerChanged"

// orderOrigin is the order API and endpoint an order is placed with,
// defaults applied; the zero value means "the issuer's current ones".
type orderOrigin struct {
	api, endpoint string
}

func (o orderOrigin) String() string {
	return fmt.Sprintf("orderAPI %s at %s", o.api, o.endpoint)
}

// issuerOrigin is what the issuer places orders with now.
func issuerOrigin(iss v1alpha1.GenericIssuer) orderOrigin {
	spec := iss.GetSpec()
	cfg := signer.Config{OrderAPI: string(spec.OrderAPI), Endpoint: spec.Endpoint}.WithDefaults()
	return orderOrigin{api: cfg.OrderAPI, endpoint: cfg.Endpoint}
}

// recordedOrigin is what st's order was placed with: as recorded, else
// (state recorded before the origin was, or nothing remote) current.
func recordedOrigin(st signer.OrderState, current orderOrigin) orderOrigin {
	if stateEmpty(st) || st.OrderAPI == "" || st.Endpoint == "" {
		return current
	}
	return orderOrigin{api: st.OrderAPI, endpoint: st.Endpoint}
}

// stamp records o in st when st holds something remote, and clears it
// otherwise (a state emptied by the signer starts afresh).
func (o orderOrigin) stamp(st signer.OrderState) signer.OrderState {
	if stateEmpty(st) {
		st.OrderAPI, st.Endpoint = "", ""
		return st
	}
	if o != (orderOrigin{}) {
		st.OrderAPI, st.Endpoint = o.api, o.endpoint
	}
	return st
}

// recordsOnly is the part of st left to give back once the order itself
// is settled (issued, or another request's): its validation records.
func recordsOnly(st signer.OrderState) signer.OrderState {
	return signer.OrderState{ValidationRecords: st.ValidationRecords, OrderAPI: st.OrderAPI, Endpoint: st.Endpoint}
}

// issuerDrift is an issuer whose current orderAPI or endpoint differ from
// what a request's open order was placed with.
type issuerDrift struct {
	recorded, current orderOrigin
	order             string
}

// note tells people what happens to the order.
func (d *issuerDrift) note() string {
	return fmt.Sprintf("%s: %s was placed with %s; the issuer now has %s: the order is followed and cancelled with what it was placed with, and nothing is ordered again",
		reasonIssuerChanged, d.order, d.recorded, d.current)
}

// forState is the signer for a request whose trusted state is st: the
// issuer's own, or, when st's open order was placed with another orderAPI
// or endpoint, one built for those (with the issuer's credentials), with
// the drift. The origin is what the request's store records. A signer that
// cannot be built for the recorded origin is a transient IssuerChanged
// error: the request waits and nothing is ordered.
func (s *signerSource) forState(ctx context.Context, iss v1alpha1.GenericIssuer, st signer.OrderState) (*signerEntry, orderOrigin, *issuerDrift, error) {
	current := issuerOrigin(iss)
	at := recordedOrigin(st, current)
	if at == current {
		e, err := s.get(ctx, iss)
		return e, at, nil, err
	}
	drift := &issuerDrift{recorded: at, current: current, order: st.Name()}
	e, err := s.build(ctx, iss, &at)
	if err != nil {
		if _, ok := signer.AsIssuer(err); ok {
			// The issuer is fine for new orders; only this order cannot be
			// followed.
			return nil, at, drift, signer.Transient(reasonIssuerChanged, 0, fmt.Errorf(
				"%s was placed with %s, but the issuer now has %s and no signer can be built for the former (%v): the request waits and nothing is ordered again; restore the issuer's orderAPI and endpoint to finish the order",
				drift.order, at, current, err))
		}
		return nil, at, drift, err
	}
	return e, at, drift, nil
}

// resolveSigner sets the signer, origin and drift of a request whose
// trusted state is st.
func (r *resolved) resolveSigner(ctx context.Context, signers *signerSource, st signer.OrderState) error {
	var err error
	r.entry, r.origin, r.drift, err = signers.forState(ctx, r.iss, st)
	return err
}

// noteDrift adds to a verdict that the order is followed with what it was
// placed with (a signer that could not be built says so in its error).
func (r *resolved) noteDrift(v verdict) verdict {
	if r.drift == nil || r.entry == nil {
		return v
	}
	note := r.drift.note()
	v.message += " (" + note + ")"
	if v.event != nil {
		v.event.text += " (" + note + ")"
	}
	return v
}
