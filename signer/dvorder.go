package signer

import (
	"context"
	"crypto/rsa"
	"fmt"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The CAS 2018-07-13 flow: an order is placed on a purchased certificate
// instance (one instance, one certificate) and Alibaba Cloud generates the
// private key. The instance id is recorded on the request before
// CreateDVOrderAudit, so that a restart resumes by DescribeDVOrderResult and
// never orders twice. Because the issued certificate cannot match the key of
// cert-manager's CSR, the flow hands the server key back for adoption (see
// Outcome.AdoptKey); cert-manager then asks again with that key and the
// flow answers from the recorded instance.

// Reasons of the DV flow's outcomes.
const (
	ReasonKeyAdoptionOff     = "KeyAdoptionOff"
	ReasonNoNextKeySecret    = "NoNextPrivateKeySecret"
	ReasonDVKeyUnsupported   = "DVKeyUnsupported"
	ReasonNoUsableInstance   = "NoUsableInstance"
	ReasonInstanceInUse      = "InstanceInUse"
	ReasonAdoptedKeyMismatch = "AdoptedKeyMismatch"
	ReasonKeyAdopted         = "KeyAdopted"
)

const (
	// dvKeyBits is the only key Alibaba Cloud generates for DV orders.
	dvKeyBits = 2048
	// maxInstancePages bounds one walk through DescribeOrderInstanceList.
	maxInstancePages = 200
)

// dvOrderSigner is the CAS 2018-07-13 flow.
type dvOrderSigner struct {
	flow
	instances *instancePicker
}

func newDVOrderSigner(base flow) *dvOrderSigner {
	return &dvOrderSigner{flow: base, instances: newInstancePicker()}
}

// Sign advances the request's DV order by one step.
func (s *dvOrderSigner) Sign(ctx context.Context, req Request, store StateStore) (Outcome, error) {
	csr, err := s.check(req)
	if err != nil {
		return Outcome{}, err
	}
	st := req.State
	if st.InstanceID == "" && req.AdoptedInstanceID != "" {
		// The request was built from a key this issuer adopted: answer it
		// from the instance recorded on the key's Secret.
		st.InstanceID = req.AdoptedInstanceID
		now := s.now().UTC()
		st.OrderedAt = &now
		s.instances.reserve(st.InstanceID, req.Name)
		if err := store.Save(ctx, st); err != nil {
			return Outcome{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording CAS instance %s of the adopted key: %w", st.InstanceID, err))
		}
		return s.poll(ctx, req, csr, st, nil, store)
	}
	if st.InstanceID == "" {
		return s.order(ctx, req, csr, st, store)
	}
	s.instances.reserve(st.InstanceID, req.Name)
	if st.OrderedAt == nil {
		// Reserved, but the order is not known to exist: a restart between
		// the reservation and the create, or a create whose answer was
		// lost. The instance itself tells.
		r, exists, err := s.describe(ctx, st.InstanceID)
		if err != nil {
			return Outcome{}, err
		}
		if !exists {
			return s.create(ctx, req, csr, st, store, true)
		}
		st = s.adoptOrder(st, store)
		return s.interpret(ctx, req, csr, st, r, store)
	}
	return s.poll(ctx, req, csr, st, nil, store)
}

// check refuses locally, before anything is ordered, what the DV flow can
// never turn into a certificate cert-manager accepts.
func (s *dvOrderSigner) check(req Request) (*CheckedCSR, error) {
	if !s.cfg.DVOrder.AdoptServerKey {
		return nil, Permanent(ReasonKeyAdoptionOff,
			"orderAPI %s: Alibaba Cloud generates the private key of DV orders, so the certificate cannot match the request's key; set spec.dvOrder.adoptServerKey: true (and grant the issuer Secret updates) to let it adopt the server key, or use orderAPI %s", OrderAPIDVOrder, OrderAPICSR)
	}
	// Wildcards depend on the purchased instance, which CAS checks itself.
	csr, err := CheckRequest(req, "")
	if err != nil {
		return nil, err
	}
	if k, ok := csr.CSR.PublicKey.(*rsa.PublicKey); !ok || k.N.BitLen() != dvKeyBits {
		return nil, Permanent(ReasonDVKeyUnsupported,
			"orderAPI %s: Alibaba Cloud generates RSA %d keys for DV orders, and cert-manager keeps an adopted key only if it matches the Certificate's spec.privateKey; the request's key is %s: set spec.privateKey algorithm RSA, size %d", OrderAPIDVOrder, dvKeyBits, csr.Key, dvKeyBits)
	}
	if req.NextPrivateKeySecret == "" {
		return nil, Permanent(ReasonNoNextKeySecret,
			"orderAPI %s needs the request's annotation cert-manager.io/private-key-secret-name (the Certificate's next private key Secret) to adopt the server-generated key; requests not made by cert-manager for a Certificate cannot be served", OrderAPIDVOrder)
	}
	return csr, nil
}

// order picks a free instance, reserves it on the request, then creates.
func (s *dvOrderSigner) order(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore) (Outcome, error) {
	candidates, err := s.usableInstances(ctx)
	if err != nil {
		return Outcome{}, err
	}
	taken := map[string]bool{}
	if req.InstanceTaken != nil {
		for _, id := range candidates {
			t, err := req.InstanceTaken(ctx, id)
			if err != nil {
				return Outcome{}, Transient(ReasonOrderLookup, 0, fmt.Errorf("looking up which CAS instances other requests hold: %w", err))
			}
			taken[id] = t
		}
	}
	id := s.instances.pick(candidates, taken, req.Name)
	if id == "" {
		return pendingOutcome(&Pending{
			Reason:     ReasonNoUsableInstance,
			Notify:     true,
			Message:    s.noInstanceMessage(len(candidates)),
			RetryAfter: s.cfg.MaxPollInterval,
		}), nil
	}
	st.InstanceID = id
	return s.create(ctx, req, csr, st, store, false)
}

// create records the intent (instance and Creating mark), applies for the
// certificate, records that the order exists, and looks at it once.
// resumed says the instance was reserved by an earlier call.
func (s *dvOrderSigner) create(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore, resumed bool) (Outcome, error) {
	// Nothing is ordered for a name the account cannot validate: the
	// instance is given back unused.
	if err := s.checkNamesBeforeOrdering(ctx, csr); err != nil {
		failed := st.InstanceID
		st.InstanceID, st.Creating = "", nil
		if serr := store.Save(ctx, st); serr != nil {
			return Outcome{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("releasing CAS instance %s, as nothing can be ordered: %w", failed, serr))
		}
		s.instances.unreserve(failed, req.Name)
		return Outcome{}, err
	}
	now := s.now().UTC()
	st.Creating = &now
	if err := store.Save(ctx, st); err != nil {
		if !resumed {
			s.instances.unreserve(st.InstanceID, req.Name)
		}
		return Outcome{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording CAS instance %s before ordering on it: %w", st.InstanceID, err))
	}
	err := s.client.CreateDVOrderAudit(ctx, aliyun.DVOrderAudit{
		InstanceID:       st.InstanceID,
		Domains:          csr.Names,
		DomainVerifyType: s.cfg.ValidationMethod,
		Username:         s.cfg.Contact.Username,
		Email:            s.cfg.Contact.Email,
		Mobile:           s.cfg.Contact.Phone,
		Province:         s.cfg.Contact.Province,
		City:             s.cfg.Contact.City,
	})
	if err != nil {
		if e, ok := aliyun.AsError(err); ok && e.OutcomeUnknown {
			// Creating stays recorded: the next Sign asks the instance.
			return Outcome{}, Transient(ReasonOrderMaybeCreated, 0,
				fmt.Errorf("the answer to the DV order on CAS instance %s for %s was lost (%v); the instance is looked at before ordering again", st.InstanceID, csr.MainDomain, err))
		}
		// What CAS answers for an instance that already carries an order is
		// not published: the instance list's Status says.
		has, herr := s.refusedForOrder(ctx, st.InstanceID, err)
		if herr != nil {
			return Outcome{}, herr
		}
		if has {
			if resumed {
				// Our own earlier create got through after all.
				r, exists, derr := s.describe(ctx, st.InstanceID)
				if derr != nil {
					return Outcome{}, derr
				}
				if exists {
					st = s.adoptOrder(st, store)
					return s.interpret(ctx, req, csr, st, r, store)
				}
			}
			// Someone else ordered on it meanwhile: give it up (the
			// reservation stays, so this process never picks it again) and
			// pick another one.
			failed := st.InstanceID
			st.InstanceID, st.Creating = "", nil
			if serr := store.Save(ctx, st); serr != nil {
				return Outcome{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("releasing CAS instance %s, which already carries an order: %w", failed, serr))
			}
			return Outcome{}, Transient(ReasonInstanceInUse, 0, fmt.Errorf("CAS instance %s already carries an order; another instance is picked: %w", failed, err))
		}
		// Certainly not created: give the instance back.
		failed := st.InstanceID
		st.InstanceID, st.Creating = "", nil
		if serr := store.Save(ctx, st); serr == nil {
			s.instances.unreserve(failed, req.Name)
		}
		return Outcome{}, withContext(err, "ordering a DV certificate for %s on CAS instance %s", strings.Join(csr.Names, ", "), failed)
	}
	s.ordered()
	st.Creating = nil
	st.OrderedAt = &now
	// The instance is recorded: until the controller's next write carries
	// this, a restart finds the order on the instance.
	store.Learn(st)
	return s.poll(ctx, req, csr, st, nil, store)
}

// adoptOrder records that the reserved instance carries an order.
func (s *dvOrderSigner) adoptOrder(st OrderState, store StateStore) OrderState {
	at := s.now().UTC()
	if st.Creating != nil {
		at = *st.Creating
	}
	st.Creating = nil
	st.OrderedAt = &at
	// Found on the instance again after another restart.
	store.Learn(st)
	return st
}

// describe asks an instance for its order; exists is false when it has none.
func (s *dvOrderSigner) describe(ctx context.Context, id string) (*aliyun.DVOrderResult, bool, error) {
	r, err := s.client.DescribeDVOrderResult(ctx, id)
	if err != nil {
		// What CAS answers for an instance without an order is not
		// published: the instance list's Status says whether it has one.
		has, herr := s.refusedForOrder(ctx, id, err)
		if herr != nil {
			return nil, false, herr
		}
		if !has && isRefusal(err) {
			return nil, false, nil
		}
		return nil, false, withContext(err, "looking at the DV order of CAS instance %s", id)
	}
	return r, true, nil
}

// isRefusal: CAS answered and refused (not a transient or configuration
// failure).
func isRefusal(err error) bool {
	e, ok := aliyun.AsError(err)
	return ok && e.Class == aliyun.Permanent
}

// refusedForOrder tells, after CAS refused a call on an instance, whether
// the instance carries an order: DescribeOrderInstanceList's Status (PAYED
// or Paid: none yet) is the documented source. err is the refusal; other
// failures are not looked into (has is false).
func (s *dvOrderSigner) refusedForOrder(ctx context.Context, id string, err error) (bool, error) {
	if !isRefusal(err) {
		return false, nil
	}
	all, lerr := s.listInstances(ctx)
	if lerr != nil {
		return false, withContext(lerr, "listing the purchased certificate instances after CAS refused a call on %s (%v)", id, err)
	}
	for _, o := range all {
		if o.InstanceID == id {
			return !strings.EqualFold(o.Status, "PAYED") && !strings.EqualFold(o.Status, "Paid"), nil
		}
	}
	return false, withContext(err, "CAS instance %s is not among the purchased instances", id)
}

// poll looks at the order (r when already fetched) and interprets it.
func (s *dvOrderSigner) poll(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, r *aliyun.DVOrderResult, store StateStore) (Outcome, error) {
	if r == nil {
		var exists bool
		var err error
		r, exists, err = s.describe(ctx, st.InstanceID)
		if err != nil {
			return Outcome{}, err
		}
		if !exists {
			return Outcome{}, Permanent(ReasonBadOrderState, "CAS instance %s recorded for this request carries no DV order", st.InstanceID)
		}
	}
	return s.interpret(ctx, req, csr, st, r, store)
}

func (s *dvOrderSigner) interpret(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, r *aliyun.DVOrderResult, store StateStore) (Outcome, error) {
	switch strings.ToLower(r.OrderStatus) {
	case aliyun.DVStatusChecking:
		return s.awaitValidation(ctx, dvValidation(r, csr), st, store, dvOrderName(st.InstanceID), s.pollAfter(st))
	case aliyun.DVStatusIssued:
		res, err := s.issued(ctx, req, csr, st, r)
		if err == nil {
			res.Notes = append(res.Notes, s.removeValidation(ctx, st, store)...)
		}
		return res, err
	case aliyun.DVStatusCheckedFail, aliyun.DVStatusCheckFail:
		return Outcome{}, Permanent(ReasonVerifyFailed, "the CA could not validate %s for the DV order on CAS instance %s (status %s)", strings.Join(csr.Names, ", "), st.InstanceID, r.OrderStatus)
	default:
		return Outcome{}, Transient(ReasonUnknownOrderState, s.pollAfter(st),
			fmt.Errorf("CAS reports the DV order on instance %s in state %q; looking again later", st.InstanceID, r.OrderStatus))
	}
}

// dvOrderName names the DV order on an instance for people.
func dvOrderName(instanceID string) string { return "the DV order on CAS instance " + instanceID }

// Cancel removes the request's DNS validation records; there is no order to
// give back: CAS 2018-07-13 cannot cancel a DV order and an instance, once
// ordered on, stays used. A reservation on which no order was placed is
// simply forgotten.
func (s *dvOrderSigner) Cancel(ctx context.Context, st OrderState) (Cancelled, error) {
	if err := s.cancelValidation(ctx, st); err != nil {
		return Cancelled{}, withContext(err, "the validation records of %s not removed", dvOrderName(st.InstanceID))
	}
	if st.InstanceID == "" {
		return validationRemoved(st), nil
	}
	ordered := st.OrderedAt != nil
	if !ordered {
		_, exists, err := s.describe(ctx, st.InstanceID)
		switch {
		case err == nil && !exists:
			s.instances.forget(st.InstanceID)
		case err == nil:
			ordered = true
		default:
			// Unknown: a create may have been made.
			ordered = st.Creating != nil
		}
	}
	if ordered {
		return Cancelled{Reason: ReasonValidationRemoved, Summary: dvOrderName(st.InstanceID) + " cannot be cancelled: validation records removed; a DV instance cannot be returned"}, nil
	}
	return Cancelled{Reason: ReasonOrderCancelled, Summary: "nothing was ordered on CAS instance " + st.InstanceID + "; its reservation is released"}, nil
}

// Check counts the purchased DV instances not used yet (every page), of
// spec.dvOrder.instanceIDs when set.
func (s *dvOrderSigner) Check(ctx context.Context) (Health, error) {
	ids, err := s.usableInstances(ctx)
	if err != nil {
		return Health{}, checkError(err, "listing the purchased certificate instances")
	}
	n := len(ids)
	return Health{Summary: fmt.Sprintf("checked %s: %d usable certificate instances", s.cfg.Endpoint, n), UsableInstances: &n}, nil
}
