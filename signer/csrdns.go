package signer

import (
	"context"
	"fmt"
	"strings"
)

// The CSR flow's use of the Alidns provider.

// presentDNS makes the validation record of a waiting order exist and says
// so in the pending message.
func (s *csrSigner) presentDNS(ctx context.Context, v *Validation, id int64, st OrderState, store StateStore) (Result, error) {
	_, pr, err := s.dns.present(ctx, v, st, store)
	if err != nil {
		return Result{}, err
	}
	reason, after := ReasonDomainVerify, s.pollAfter(st)
	if pr.Reason != "" {
		reason = pr.Reason
	}
	if pr.RetryAfter > 0 && pr.RetryAfter < after {
		after = pr.RetryAfter
	}
	return Result{Pending: &Pending{
		Reason:     reason,
		Message:    fmt.Sprintf("%s (CAS order %d waits for domain validation of %s)", pr.Message, id, v.Domain),
		RetryAfter: after,
		Validation: v,
	}}, nil
}

// removeRecords deletes the validation records of a finished order and
// saves the state without them; what it could not delete stays recorded
// for the controller's clean-up. It returns notes for an Event.
func (s *csrSigner) removeRecords(ctx context.Context, st OrderState, store StateStore) []string {
	left, removed, err := s.dns.cleanUp(ctx, st)
	var notes []string
	if len(removed) > 0 {
		notes = append(notes, "removed "+strings.Join(removed, ", ")+" from Alidns")
	}
	if serr := store.Save(ctx, left); serr != nil && err == nil {
		err = serr
	}
	if err != nil {
		notes = append(notes, fmt.Sprintf("validation records not removed yet (retried): %v", err))
	}
	return notes
}

// The DV flow's use of the Alidns provider, as the CSR flow's above.

// presentDNS is the CSR flow's presentDNS for a DV order.
func (s *dvOrderSigner) presentDNS(ctx context.Context, v *Validation, st OrderState, store StateStore) (Result, error) {
	_, pr, err := s.dns.present(ctx, v, st, store)
	if err != nil {
		return Result{}, err
	}
	reason, after := ReasonDomainVerify, s.pollAfter(st)
	if pr.Reason != "" {
		reason = pr.Reason
	}
	if pr.RetryAfter > 0 && pr.RetryAfter < after {
		after = pr.RetryAfter
	}
	return Result{Pending: &Pending{
		Reason:     reason,
		Message:    fmt.Sprintf("%s (the DV order on CAS instance %s waits for domain validation of %s)", pr.Message, st.InstanceID, v.Domain),
		RetryAfter: after,
		Validation: v,
	}}, nil
}

// removeRecords is the CSR flow's removeRecords.
func (s *dvOrderSigner) removeRecords(ctx context.Context, st OrderState, store StateStore) []string {
	return (&csrSigner{dns: s.dns}).removeRecords(ctx, st, store)
}
