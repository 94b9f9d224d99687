package signer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Reasons of the CSR flow's outcomes.
const (
	ReasonDomainVerify   = "DomainVerify"
	ReasonCAReview       = "CAReview"
	ReasonVerifyFailed   = "VerifyFailed"
	ReasonOrderCancelled = "OrderCancelled"
	// ReasonOrderNotVisible: a fresh order is not found yet.
	ReasonOrderNotVisible = "OrderNotVisible"
	// ReasonPendingApplication: a fresh order answers "payed" (pending
	// application) for a while.
	ReasonPendingApplication = "PendingApplication"
	ReasonKeyMismatch        = "KeyMismatch"
	ReasonBadChain           = "BadChain"
	ReasonQuotaExhausted     = aliyun.ReasonQuotaExhausted
	ReasonOrderMaybeCreated  = "OrderMaybeCreated"
	ReasonOrderLookup        = "OrderLookup"
	ReasonStateNotSaved      = "StateNotSaved"
	ReasonUnknownOrderState  = "UnknownOrderState"
	ReasonBadOrderState      = "BadOrderState"
	// ReasonValidationRemoved: Cancel removed validation records only.
	ReasonValidationRemoved = "ValidationRecordsRemoved"
)

const (
	// clockSkew is how much earlier than our Creating mark an order found
	// by listing may have been stamped and still be ours.
	clockSkew = 2 * time.Minute
	// listPageSize and maxListPages bound the recovery listing.
	listPageSize = 50
	maxListPages = 20
)

// payedGrace is how long after a create "payed" counts as the fresh
// order's pending application rather than a cancellation (how long CAS
// shows it is not published).
const payedGrace = 10 * time.Minute

// csrSigner is the CAS 2020-04-07 flow: the CSR is sent as is, so the key
// never leaves the cluster.
type csrSigner struct {
	flow
	// settle is how long after a create whose answer was lost the order
	// may take to show up in listings; until then no second create is made.
	settle time.Duration
}

func newCSRSigner(base flow) *csrSigner {
	return &csrSigner{flow: base, settle: base.cfg.SettleTime}
}

// Sign advances the request's order by one step.
func (s *csrSigner) Sign(ctx context.Context, req Request, store StateStore) (Outcome, error) {
	csr, err := CheckRequest(req, s.cfg.ProductCode)
	if err != nil {
		return Outcome{}, err
	}
	st := req.State
	if st.OrderID == "" && st.Creating != nil {
		// A create may have happened without us seeing its answer: look
		// for it before ever ordering again.
		id, err := s.recoverOrder(ctx, req, csr, *st.Creating)
		if err != nil {
			return Outcome{}, err
		}
		if id == 0 {
			// Nothing listed: ordering again is safe only after the settle
			// time and more than one empty listing, counted durably.
			st.EmptyListings++
			if err := store.Save(ctx, st); err != nil {
				return Outcome{}, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording an empty look-up of a lost CAS order: %w", err))
			}
			wait := st.Creating.Add(s.settle).Sub(s.now())
			if wait > 0 || st.EmptyListings < MinEmptyListings {
				return Outcome{}, Transient(ReasonOrderLookup, max(wait, s.cfg.PollInterval),
					fmt.Errorf("no CAS order for %s found yet (%d empty listings) after an order whose answer was lost; looking again before ordering", csr.MainDomain, st.EmptyListings))
			}
		}
		if id != 0 {
			orderedAt := *st.Creating
			st.OrderID = strconv.FormatInt(id, 10)
			st.Creating, st.EmptyListings = nil, 0
			st.OrderedAt = &orderedAt
			// Found again by the same listing after another crash.
			store.Learn(st)
		}
	}
	if st.OrderID == "" {
		// Nothing is ordered for a name the account cannot validate.
		if err := s.checkNamesBeforeOrdering(ctx, csr); err != nil {
			return Outcome{}, err
		}
		st, err = s.create(ctx, csr, st, store)
		if err != nil {
			return Outcome{}, err
		}
		// The id rides on the controller's next write (the first look's
		// condition or certificate): until then the creating mark makes
		// a restart find the order by listing, as after a lost answer.
		// Anything the first look must record first (a DNS record about
		// to be created) is saved with the id.
		store.Learn(st)
		out, err := s.poll(ctx, req, csr, st, store)
		if w := subjectWarning(csr); w != "" {
			out.Warnings = append(out.Warnings, w)
		}
		return out, err
	}
	return s.poll(ctx, req, csr, st, store)
}

// create places the order: intent first (saved), then the call; the
// returned state holds the new id, not saved yet.
func (s *csrSigner) create(ctx context.Context, csr *CheckedCSR, st OrderState, store StateStore) (OrderState, error) {
	now := s.now().UTC()
	st.Creating = &now
	st.EmptyListings = 0
	if err := store.Save(ctx, st); err != nil {
		return st, Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording the intent to order before ordering: %w", err))
	}
	id, err := s.client.CreateCertificateWithCsrRequest(ctx, aliyun.CSROrder{
		CSR:          string(csrPEM(csr.CSR)),
		ProductCode:  s.cfg.ProductCode,
		Username:     s.cfg.Contact.Username,
		Phone:        s.cfg.Contact.Phone,
		Email:        s.cfg.Contact.Email,
		ValidateType: s.cfg.ValidationMethod,
	})
	if err != nil {
		if e, ok := aliyun.AsError(err); ok && e.OutcomeUnknown {
			// Creating stays recorded: the next Sign looks the order up.
			return st, Transient(ReasonOrderMaybeCreated, s.settle,
				fmt.Errorf("the answer to the CAS order for %s was lost (%v); the order is looked up before ordering again", csr.MainDomain, err))
		}
		// Certainly not created: forget the intent (best effort; if this
		// fails the next Sign only lists once more).
		st.Creating = nil
		_ = store.Save(ctx, st)
		cerr := classify(err)
		if p, ok := AsPermanent(cerr); ok && csr.CommonName == "" && (p.Reason == aliyun.ReasonInvalidParameter || p.Reason == aliyun.ReasonRejected) {
			return st, &PermanentError{Reason: p.Reason, Err: fmt.Errorf("%w (the CSR has no Common Name and CAS takes the domain from it: set spec.commonName on the Certificate)", p.Err)}
		}
		return st, withContext(cerr, "ordering a certificate for %s", strings.Join(csr.Names, ", "))
	}
	s.ordered()
	st.OrderID = strconv.FormatInt(id, 10)
	st.Creating = nil
	st.OrderedAt = &now
	// Handed to the store by the caller (StateStore.Learn).
	return st, nil
}

// recoverOrder looks for an order a lost create may have placed: for the
// same names (see orderMatches), placed at or after the intent (minus clock
// skew; BuyDate is when CAS took the order). It returns 0 when none is
// listed; Sign decides when that makes ordering again safe. Orders
// another request holds (Request.OrderTaken) are never taken over.
func (s *csrSigner) recoverOrder(ctx context.Context, req Request, csr *CheckedCSR, creating time.Time) (int64, error) {
	since := creating.Add(-clockSkew)
	want := nameSet(csr.Names)
	var best *aliyun.CertificateOrder
	for page := 1; page <= maxListPages; page++ {
		l, err := s.client.ListUserCertificateOrder(ctx, aliyun.OrderQuery{
			OrderType: "CPACK", Keyword: csr.MainDomain, ShowSize: listPageSize, CurrentPage: page,
		})
		if err != nil {
			return 0, withContext(err, "looking up a CAS order for %s that may have been placed", csr.MainDomain)
		}
		for i := range l.CertificateOrderList {
			o := l.CertificateOrderList[i]
			created := o.Created()
			if o.OrderID == 0 || created.IsZero() || created.Before(since) || !orderMatches(o, csr, want) {
				continue
			}
			if best != nil && !created.Before(best.Created()) {
				continue
			}
			if req.OrderTaken != nil {
				// Another request's order, for the same names: never ours.
				taken, err := req.OrderTaken(ctx, strconv.FormatInt(int64(o.OrderID), 10))
				if err != nil {
					return 0, Transient(ReasonOrderLookup, 0, fmt.Errorf("checking whether CAS order %d belongs to another request: %w", int64(o.OrderID), err))
				}
				if taken {
					continue
				}
			}
			best = &o
		}
		if len(l.CertificateOrderList) == 0 || int64(page*listPageSize) >= int64(l.TotalCount) {
			break
		}
	}
	if best != nil {
		return int64(best.OrderID), nil
	}
	return 0, nil
}

// orderMatches: a listed order is for this CSR. Package orders (CPACK)
// name only their main domain (Domain: the CSR's CN, else its first name),
// so that is what is compared; a listing that gives the SANs too is
// compared name for name.
func orderMatches(o aliyun.CertificateOrder, csr *CheckedCSR, want map[string]bool) bool {
	if o.Sans != "" || o.CommonName != "" {
		return sameNames(o.Names(), want)
	}
	return strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(o.Domain), "."), csr.MainDomain)
}

func (s *csrSigner) orderID(st OrderState) (int64, error) {
	id, err := strconv.ParseInt(st.OrderID, 10, 64)
	if err != nil || id <= 0 {
		return 0, Permanent(ReasonBadOrderState, "the recorded CAS order id %q is not a number", st.OrderID)
	}
	return id, nil
}

// poll interprets the order's state.
func (s *csrSigner) poll(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, store StateStore) (Outcome, error) {
	id, err := s.orderID(st)
	if err != nil {
		return Outcome{}, err
	}
	cs, err := s.client.DescribeCertificateState(ctx, id)
	if err != nil {
		if aliyun.IsCode(err, aliyun.CodeNotFoundOrder) && st.OrderedAt != nil && s.now().Sub(*st.OrderedAt) < s.settle {
			// CAS returned this id moments ago: an order not found yet is
			// CAS catching up, not a reason to fail (and order again).
			return Outcome{}, Transient(ReasonOrderNotVisible, s.pollAfter(st),
				fmt.Errorf("CAS does not find order %d yet, placed %s ago; looking again", id, s.now().Sub(*st.OrderedAt).Round(time.Second)))
		}
		return Outcome{}, withContext(err, "looking at CAS order %d", id)
	}
	switch cs.Type {
	case aliyun.StateDomainVerify:
		return s.awaitValidation(ctx, validationFor(cs, csr), st, store, fmt.Sprintf("CAS order %d", id), s.pollAfter(st))
	case aliyun.StateProcess:
		return pendingOutcome(&Pending{
			Reason:     ReasonCAReview,
			Message:    fmt.Sprintf("domain validation passed; the CA is reviewing CAS order %d", id),
			RetryAfter: s.pollReviewing(st),
		}), nil
	case aliyun.StateCertificate:
		res, err := s.issued(ctx, req, csr, id, cs)
		if err == nil {
			res.Notes = append(res.Notes, s.removeValidation(ctx, st, store)...)
		}
		return res, err
	case aliyun.StateVerifyFail:
		domain := cs.Domain
		if domain == "" {
			domain = strings.Join(csr.Names, ", ")
		}
		note := ""
		// The order can never be revived; deleting it gives its quota
		// back. Best effort: the failure is what matters here.
		if err := s.client.DeleteCertificateRequest(ctx, id); err == nil {
			note = "; the order was deleted to release its quota"
		}
		return Outcome{}, Permanent(ReasonVerifyFailed, "the CA could not validate %s for CAS order %d%s", domain, id, note)
	case aliyun.StatePayed:
		// "payed" is pending application (待申请): a fresh order may show it
		// before it asks for validation, and a cancelled one shows it for
		// good. Only the second is final.
		if st.OrderedAt != nil && s.now().Sub(*st.OrderedAt) < payedGrace {
			return pendingOutcome(&Pending{
				Reason:     ReasonPendingApplication,
				Message:    fmt.Sprintf("CAS order %d is pending application (state %q); looking again", id, cs.Type),
				RetryAfter: s.pollAfter(st),
			}), nil
		}
		return Outcome{}, Permanent(ReasonOrderCancelled, "CAS order %d was cancelled before issuance (state %q)", id, cs.Type)
	default:
		return Outcome{}, Transient(ReasonUnknownOrderState, s.pollAfter(st),
			fmt.Errorf("CAS reports order %d in state %q; looking again later", id, cs.Type))
	}
}

// issued checks and returns the certificate of an issued order.
func (s *csrSigner) issued(ctx context.Context, req Request, csr *CheckedCSR, id int64, cs *aliyun.CertificateState) (Outcome, error) {
	chain, err := ParseChain([]byte(cs.Certificate))
	if err != nil {
		// The order exists and is paid for: failing would make cert-manager
		// order again. An odd answer is looked at again instead.
		return Outcome{}, Transient(ReasonBadChain, s.cfg.MaxPollInterval,
			fmt.Errorf("CAS order %d is issued but its certificate is unusable (%v); looking again, no new order is placed", id, err))
	}
	if !samePublicKey(chain.Leaf.PublicKey, csr.CSR.PublicKey) {
		return Outcome{}, Permanent(ReasonKeyMismatch, "the certificate of CAS order %d is not for the CSR's key", id)
	}
	if err := checkLeafNames(chain.Leaf, csr, fmt.Sprintf("CAS order %d", id)); err != nil {
		return Outcome{}, err
	}
	return s.issuedOutcome(ctx, req, chain, fmt.Sprintf("CAS order %d", id)), nil
}

// Cancel gives back what a request holds remotely: an order that is not
// issued is cancelled and deleted, so that its quota returns. Orders that
// are gone or already final are left alone.
func (s *csrSigner) Cancel(ctx context.Context, st OrderState) (Cancelled, error) {
	if err := s.cancelValidation(ctx, st); err != nil {
		return Cancelled{}, notCancelled(st, err)
	}
	if st.OrderID == "" {
		return validationRemoved(st), nil
	}
	done := Cancelled{Reason: ReasonOrderCancelled, Summary: st.Name() + " cancelled; its quota is returned"}
	id, err := s.orderID(st)
	if err != nil {
		return done, nil
	}
	cs, err := s.client.DescribeCertificateState(ctx, id)
	if err != nil {
		return done, notCancelled(st, ignorePermanent(withContext(err, "looking at CAS order %d before cancelling it", id)))
	}
	switch cs.Type {
	case aliyun.StateCertificate:
		return validationRemoved(st), nil
	case aliyun.StatePayed, aliyun.StateVerifyFail:
	default:
		if err := s.client.CancelOrderRequest(ctx, id); err != nil {
			if err := ignorePermanent(withContext(err, "cancelling CAS order %d", id)); err != nil {
				return Cancelled{}, notCancelled(st, err)
			}
		}
	}
	if err := s.client.DeleteCertificateRequest(ctx, id); err != nil {
		return done, notCancelled(st, ignorePermanent(withContext(err, "deleting CAS order %d", id)))
	}
	return done, nil
}

// validationRemoved is the Cancelled of a state that held at most
// validation records.
func validationRemoved(st OrderState) Cancelled {
	if len(st.ValidationRecords) == 0 {
		return Cancelled{}
	}
	return Cancelled{Reason: ReasonValidationRemoved, Summary: "the domain validation records were removed"}
}

// notCancelled says, in a failure of Cancel, what was not given back.
func notCancelled(st OrderState, err error) error {
	if err == nil {
		return nil
	}
	return withContext(err, "%s not cancelled", st.Name())
}

// ignorePermanent drops permanent failures: for a clean-up they mean the
// thing is already gone or in a state that needs nothing more.
func ignorePermanent(err error) error {
	if _, ok := AsPermanent(err); ok {
		return nil
	}
	return err
}

// Check reads the product's package quota.
func (s *csrSigner) Check(ctx context.Context) (Health, error) {
	ps, err := s.client.DescribePackageState(ctx, s.cfg.ProductCode)
	if err != nil {
		return Health{}, checkError(err, "reading the quota of product %s", s.cfg.ProductCode)
	}
	q := &Quota{Total: int(ps.TotalCount), Used: int(ps.UsedCount), Issued: int(ps.IssuedCount)}
	summary := fmt.Sprintf("checked %s: %d of %d certificates of %s left", s.cfg.Endpoint, max(q.Total-q.Used, 0), q.Total, s.cfg.ProductCode)
	if w := aliyun.SiteWarning(s.cfg.Endpoint, s.cfg.ProductCode); w != "" {
		summary += "; warning: " + w
	}
	return Health{Summary: summary, Quota: q}, nil
}

// checkError classifies a health-check failure: what would fail a request
// (e.g. an unknown product) is the issuer's configuration here.
func checkError(err error, format string, args ...any) error {
	err = withContext(err, format, args...)
	if p, ok := AsPermanent(err); ok {
		return &IssuerError{Reason: p.Reason, Err: p.Err}
	}
	return err
}
