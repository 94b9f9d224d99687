package signer

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// flow is what every order flow shares, embedded by each flow's signer
// (csrSigner, dvOrderSigner; a new flow embeds it the same way). Its API is
// deliberately small:
//
//   - pollAfter: when to look at a pending order again;
//   - awaitValidation: the pending outcome of an order that waits for
//     domain validation (the record made in Alidns when so configured);
//   - issuedOutcome: the outcome of a certificate for the request's key;
//   - removeValidation, cancelValidation: the validation records of a
//     finished or given-up order.
//
// Each flow keeps its own order bookkeeping (what it records in OrderState
// and how it recovers a create whose answer was lost).
type flow struct {
	cfg    Config
	client *aliyun.Client
	now    func() time.Time
	roots  *rootCache
	// dns, when set, creates and removes DNS validation records in Alidns.
	dns *alidnsProvider
	// issuance is how long the account's recent orders of this order API took.
	issuance *issuanceHistory
}

func newFlow(cfg Config, client *aliyun.Client, dns *alidnsProvider) flow {
	return flow{cfg: cfg, client: client, now: time.Now, roots: newRootCache(cfg.Transport, cfg.Endpoints), dns: dns,
		issuance: accountOf(cfg).history(cfg.OrderAPI)}
}

// pollAfter is when to look at a pending order again (poll.go): it depends on the state, the
// clock and what the account's recent orders took.
func (f *flow) pollAfter(st OrderState) time.Duration { return f.pollExpecting(st, 0) }

// pollExpecting is pollAfter for an order whose certificate Alibaba announces after about
// announced (0: nothing announced); the account's own orders take precedence.
func (f *flow) pollExpecting(st OrderState, announced time.Duration) time.Duration {
	if st.OrderedAt == nil {
		return f.cfg.PollInterval
	}
	age := f.now().Sub(*st.OrderedAt)
	exp := expectation{at: announced}
	if f.issuance != nil {
		f.issuance.lookedPending(orderKey(st), age)
		if d, ok := f.issuance.expected(); ok && age <= 2*d {
			exp = expectation{at: d, learned: true}
		}
	}
	return pollSchedule(age, exp, f.cfg.PollInterval, f.cfg.MaxPollInterval)
}

// orderKey names an order among the account's (OrderedAt to the second, as any spelling of
// the stored state keeps it).
func orderKey(st OrderState) string {
	return st.OrderID + "/" + st.InstanceID + "/" + strconv.FormatInt(st.OrderedAt.Unix(), 10)
}

// pollReviewing is pollAfter for an order the CA is reviewing.
func (f *flow) pollReviewing(st OrderState) time.Duration {
	d := f.pollAfter(st)
	if st.OrderedAt == nil {
		return d
	}
	return reviewSchedule(f.now().Sub(*st.OrderedAt), d, f.cfg.PollInterval)
}

// ordered reports an order placed (a create call answered with success).
func (f *flow) ordered() {
	if f.cfg.OnOrderCreated != nil {
		f.cfg.OnOrderCreated(f.cfg.OrderAPI)
	}
}

// checkNamesBeforeOrdering refuses, before anything is ordered, names the
// account cannot validate automatically (Alidns DNS validation only).
func (f *flow) checkNamesBeforeOrdering(ctx context.Context, csr *CheckedCSR) error {
	if f.dns == nil || f.cfg.ValidationMethod != "DNS" {
		return nil
	}
	return f.dns.checkNames(ctx, csr.Names)
}

// awaitValidation is the outcome of an order waiting for the CA to see v;
// order names the order for people ("CAS order 42"). With Alidns the record
// is made to exist first.
// after is when to look again.
func (f *flow) awaitValidation(ctx context.Context, v *Validation, st OrderState, store StateStore, order string, after time.Duration) (Outcome, error) {
	if f.dns != nil && v.Method == "DNS" {
		return f.dns.presentDNS(ctx, v, st, store, order, after)
	}
	return pendingOutcome(&Pending{
		Reason:     ReasonDomainVerify,
		Message:    fmt.Sprintf("%s (%s waits for domain validation)", v.Instruction(), order),
		RetryAfter: after,
		Validation: v,
	}), nil
}

// issuedOutcome is the outcome of chain, a certificate for the request's
// key issued by order (named for people): the root when known, and notes
// about what differs from the request.
func (f *flow) issuedOutcome(ctx context.Context, req Request, chain *Chain, order string) Outcome {
	if st := req.State; st.OrderedAt != nil && f.issuance != nil {
		f.issuance.issued(orderKey(st), f.now().Sub(*st.OrderedAt))
	}
	leaf := chain.Leaf
	cert := &Certificate{Chain: chain.ChainPEM(), Leaf: leaf, Order: order}
	var notes []string
	if root, err := f.roots.root(ctx, chain); err == nil {
		cert.CA = encodePEM(root)
	} else {
		notes = append(notes, fmt.Sprintf("the root CA of %s is unknown, so ca.crt stays empty: %v", order, err))
	}
	if req.Duration > 0 {
		got := leaf.NotAfter.Sub(leaf.NotBefore)
		if diff := got - req.Duration; diff > time.Minute || diff < -time.Minute {
			notes = append(notes, fmt.Sprintf("the requested duration %s is not honoured by CAS: the certificate is valid for %s, until %s",
				req.Duration, got.Round(time.Second), leaf.NotAfter.UTC().Format(time.RFC3339)))
		}
	}
	return Outcome{Kind: OutcomeIssued, Certificate: cert, Notes: notes}
}

// removeValidation deletes the validation records of an issued order and
// returns notes for people (nothing without Alidns or records).
func (f *flow) removeValidation(ctx context.Context, st OrderState, store StateStore) []string {
	if f.dns == nil || len(st.ValidationRecords) == 0 {
		return nil
	}
	return f.dns.removeRecords(ctx, st, store)
}

// cancelValidation deletes the validation records of an order given up.
func (f *flow) cancelValidation(ctx context.Context, st OrderState) error {
	if f.dns == nil || len(st.ValidationRecords) == 0 {
		return nil
	}
	_, _, err := f.dns.cleanUp(ctx, st)
	return err
}
