package signer

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// How both order flows use the Alidns provider while an order waits for
// DNS validation, and once it is done.

// presentDNS makes the validation record of a waiting order exist and says
// so in the pending message; order names the order for that message and
// after is the flow's next poll.
func (p *alidnsProvider) presentDNS(ctx context.Context, v *Validation, st OrderState, store StateStore, order string, after time.Duration) (Outcome, error) {
	_, pr, err := p.present(ctx, v, st, store)
	if err != nil {
		return Outcome{}, err
	}
	reason := ReasonDomainVerify
	if pr.Reason != "" {
		reason = pr.Reason
	}
	if pr.RetryAfter > 0 && pr.RetryAfter < after {
		after = pr.RetryAfter
	}
	return pendingOutcome(&Pending{
		Reason:     reason,
		Message:    fmt.Sprintf("%s (%s waits for domain validation of %s)", pr.Message, order, v.Domain),
		RetryAfter: after,
		Validation: v,
		Notify:     true,
	}), nil
}

// removeRecords deletes the validation records of a finished order and
// saves the state without them; what it could not delete stays recorded
// for the controller's clean-up. It returns notes for an Event.
func (p *alidnsProvider) removeRecords(ctx context.Context, st OrderState, store StateStore) []string {
	left, removed, err := p.cleanUp(ctx, st)
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
