package signer

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Following a submitted application to its certificate, withdrawing one, and the issuer's
// health in the subscription-instance flow.

const (
	// submitPoll bounds the wait between two looks while the submission is processed or the
	// validation records are not shown yet: both take seconds.
	submitPoll = 5 * time.Second
	// cancelPoll is how soon to look again while a withdrawal lands.
	cancelPoll = 5 * time.Second
	// reflectGrace is how long after a submission an instance that does not show it yet is
	// given before the application counts as ended.
	reflectGrace = time.Minute
)

// follow looks at a submitted application (d when already read). The instance is read first:
// validation records or a new certificate on it show that the submission went through, so
// GetTaskAttribute is asked only while the instance shows neither (to tell a submission the CA
// refused, and why).
func (a *application) follow(ctx context.Context, d *aliyun.Instance) (Outcome, error) {
	s, id := a.s, a.st.InstanceID
	if d == nil {
		var err error
		if d, err = s.detail(ctx, id); err != nil {
			return Outcome{}, err
		}
	}
	if !a.st.Submitted && !a.issuedSince(d) && (d.Status != aliyun.InstancePending || len(d.DomainValidationList) == 0) {
		t, err := s.client.GetTaskAttribute(ctx, id)
		if err != nil {
			if e, ok := aliyun.AsError(err); !ok || e.Class != aliyun.Permanent {
				return Outcome{}, withContext(err, "reading the submission of %s", a.name())
			}
			// No task to report (what it answers for an application it did not start, such
			// as one submitted by UpdateInstance, is unverified): the instance tells.
			t = &aliyun.TaskAttribute{TaskStatus: aliyun.TaskSuccess}
		}
		switch t.Normalized() {
		case aliyun.TaskSuccess:
			a.st.Submitted = true
		case aliyun.TaskFailed:
			if err := a.forget(ctx); err != nil {
				return Outcome{}, err
			}
			return Outcome{}, Permanent(ReasonApplicationFailed, "CAS refused the submission of %s for %s: %s", instanceOrder(id), a.csr.MainDomain, t.TaskMessage)
		default:
			return pendingOutcome(&Pending{Reason: ReasonSubmitting, RetryAfter: min(a.s.pollAfter(a.st), submitPoll), Brief: true,
				Message: fmt.Sprintf("%s for %s is being submitted to the CA (task %s)", a.name(), a.csr.MainDomain, t.TaskStatus)}), nil
		}
	}
	if a.issuedSince(d) {
		out, err := a.download(ctx, d)
		if !isKeyMismatch(err) || d.Status != aliyun.InstancePending {
			return out, err
		}
		// An older certificate of the instance (the id recorded before the application
		// came from a listing that was not fresh): this application is still in flight.
		a.st.PreviousCertificateID = string(d.CertificateID)
	}
	if d.Status != aliyun.InstancePending && a.s.now().Sub(*a.st.OrderedAt) < reflectGrace {
		// The instance takes a few seconds to reflect a submission [TF].
		return pendingOutcome(&Pending{Reason: ReasonSubmitting, RetryAfter: min(a.s.pollAfter(a.st), submitPoll), Brief: true,
			Message: fmt.Sprintf("%s for %s is submitted; waiting for the instance to show it (status %s)", a.name(), a.csr.MainDomain, d.Status)}), nil
	}
	if d.Status != aliyun.InstancePending {
		return Outcome{}, Permanent(ReasonApplicationEnded, "%s for %s ended without a certificate (instance %s, certificate %q %s; CA: %q)",
			a.name(), a.csr.MainDomain, d.Status, string(d.CertificateID), d.CertificateStatus, d.PendingResult)
	}
	vs := instanceValidations(d.DomainValidationList)
	if len(vs) == 0 {
		return pendingOutcome(&Pending{Reason: ReasonSubmitting, RetryAfter: min(a.s.pollAfter(a.st), submitPoll), Brief: true,
			Message: fmt.Sprintf("%s for %s is submitted; waiting for the CA's validation records", a.name(), a.csr.MainDomain)}), nil
	}
	return a.awaitRecords(ctx, vs, a.s.pollExpecting(a.st, averageWaiting(d)))
}

// averageWaiting is the instance's AverageWaitingTime (seconds, as a string; Alibaba's
// average issuance time for the product), 0 when absent or not a number.
func averageWaiting(d *aliyun.Instance) time.Duration {
	n, err := strconv.ParseFloat(strings.TrimSpace(string(d.AverageWaitingTime)), 64)
	if err != nil || n <= 0 || n > 30*24*3600 {
		return 0
	}
	return time.Duration(n * float64(time.Second))
}

// awaitRecords is the pending outcome of an application waiting for its validation records
// (made to exist in Alidns when so configured), looked at again after at most after.
func (a *application) awaitRecords(ctx context.Context, vs []*Validation, after time.Duration) (Outcome, error) {
	if len(vs) == 1 {
		return a.s.awaitValidation(ctx, vs[0], a.st, a.store, a.name(), after)
	}
	var msgs []string
	reason := ReasonDomainVerify
	acted := false
	for _, v := range vs {
		if a.s.dns == nil || v.Method != "DNS" {
			msgs = append(msgs, v.Instruction())
			continue
		}
		st, pr, err := a.s.dns.present(ctx, v, a.st, a.store)
		if err != nil {
			return Outcome{}, err
		}
		a.st, acted = st, true
		msgs = append(msgs, pr.Message)
		if pr.Reason != "" {
			reason = pr.Reason
		}
		if pr.RetryAfter > 0 && pr.RetryAfter < after {
			after = pr.RetryAfter
		}
	}
	return pendingOutcome(&Pending{Reason: reason, RetryAfter: after, Validation: vs[0], Notify: acted,
		Message: fmt.Sprintf("%s (%s waits for domain validation)", strings.Join(msgs, "; "), a.name())}), nil
}

// download fetches the new certificate and checks it against the CSR (key and names). A
// caller that does not know the certificate is this request's tells by the key mismatch.
func (a *application) download(ctx context.Context, d *aliyun.Instance) (Outcome, error) {
	s, certID := a.s, string(d.CertificateID)
	c, err := s.client.DownloadCertificate(ctx, certID)
	if err != nil {
		return Outcome{}, withContext(err, "downloading certificate %s of %s", certID, a.name())
	}
	chain, err := ParseChain([]byte(c.Cert))
	if err != nil {
		// The application is issued: failing would make cert-manager apply again for a
		// certificate CAS has. An odd answer is looked at again instead (as for an order).
		return Outcome{}, Transient(ReasonBadChain, s.cfg.MaxPollInterval,
			fmt.Errorf("certificate %s of %s is issued but unusable (%v); looking again, nothing is applied for anew", certID, a.name(), err))
	}
	if !samePublicKey(chain.Leaf.PublicKey, a.csr.CSR.PublicKey) {
		return Outcome{}, Permanent(ReasonKeyMismatch, "certificate %s of %s is not for the request's key", certID, a.name())
	}
	if err := checkLeafNames(chain.Leaf, a.csr, fmt.Sprintf("%s (certificate %s)", a.name(), certID)); err != nil {
		return Outcome{}, err
	}
	a.st.Creating = nil
	if a.st.OrderedAt == nil {
		now := s.now().UTC()
		a.st.OrderedAt = &now
	}
	order := fmt.Sprintf("%s (certificate %s)", a.name(), certID)
	out := s.issuedOutcome(ctx, a.req, chain, order)
	out.Notes = append(out.Notes, s.removeValidation(ctx, a.st, a.store)...)
	a.st.ValidationRecords = nil
	// Recorded with the finalizer's removal, just after the certificate.
	a.store.Learn(a.st)
	// The reservation stays: the instance is bound to the owner for its renewals.
	return out, nil
}

func isKeyMismatch(err error) bool {
	p, ok := AsPermanent(err)
	return ok && p.Reason == ReasonKeyMismatch
}

// Cancel withdraws the request's application while it is in flight (retried, through the
// error, until the withdrawal has landed) and removes its validation records. An instance
// carrying another request's application, or an issued certificate, is left alone.
func (s *instanceSigner) Cancel(ctx context.Context, st OrderState) (Cancelled, error) {
	if err := s.cancelValidation(ctx, st); err != nil {
		return Cancelled{}, withContext(err, "the validation records of %s not removed", st.Name())
	}
	if st.InstanceID == "" {
		return validationRemoved(st), nil
	}
	name := instanceOrder(st.InstanceID)
	if st.OrderedAt == nil && st.Creating == nil {
		s.instances.forget(st.InstanceID)
		return Cancelled{Reason: ReasonOrderCancelled, Summary: "nothing was applied for on CAS instance " + st.InstanceID + "; its reservation is released"}, nil
	}
	d, err := s.detail(ctx, st.InstanceID)
	if err != nil {
		if p, ok := AsPermanent(err); ok && p.Reason == ReasonInstanceNotFound {
			s.instances.forget(st.InstanceID)
			return Cancelled{Reason: ReasonOrderCancelled, Summary: "CAS instance " + st.InstanceID + " no longer exists"}, nil
		}
		return Cancelled{}, err
	}
	ours := csrOnInstanceIs(d, st.CSRDigest)
	if d.Status == aliyun.InstancePending && ours {
		err := s.client.CancelPendingCertificate(ctx, st.InstanceID)
		if err != nil && !aliyun.IsCode(err, aliyun.CodeStatusNotSupport) {
			return Cancelled{}, withContext(err, "withdrawing %s", name)
		}
		// Accepted (it lands asynchronously) or refused for now (the instance refuses for a
		// few seconds after the records appear): look again.
		return Cancelled{}, Transient(ReasonOrderCancelled, cancelPoll, fmt.Errorf("%s is being withdrawn; waiting for CAS instance %s to leave pending", name, st.InstanceID))
	}
	if d.Status == aliyun.InstancePending || (string(d.CertificateID) != st.PreviousCertificateID && d.CertificateStatus == aliyun.CertificateIssued && ours) {
		return Cancelled{Reason: ReasonValidationRemoved, Summary: name + " is no longer this request's to withdraw; its validation records are removed"}, nil
	}
	s.instances.forget(st.InstanceID)
	return Cancelled{Reason: ReasonOrderCancelled, Summary: name + " is withdrawn; the instance can take another application"}, nil
}

// Check lists the instances the issuer may use and counts the usable and the busy ones. No
// usable instance leaves the issuer Ready: requests wait with reason NoUsableInstance.
func (s *instanceSigner) Check(ctx context.Context) (Health, error) {
	all, err := s.listAll(ctx, 0)
	if err != nil {
		return Health{}, checkError(err, "listing the CAS subscription instances")
	}
	if ids := s.cfg.Instance.InstanceIDs; len(ids) > 0 {
		want := nameSet(ids)
		var mine []aliyun.Instance
		for _, inst := range all {
			if want[strings.ToLower(inst.InstanceID)] {
				mine = append(mine, inst)
			}
		}
		if missing := len(ids) - len(mine); missing > 0 {
			usable, busy := countInstances(mine)
			return Health{UsableInstances: &usable, InFlightInstances: &busy, Instances: instanceStates(mine),
				Summary: fmt.Sprintf("checked %s: %d of the %d instances of spec.instance.instanceIDs are not among the account's DV instances; %d usable, %d in flight (%s)", s.cfg.Endpoint, missing, len(ids), usable, busy, statusCounts(mine))}, nil
		}
		all = mine
	}
	usable, busy := countInstances(all)
	return Health{UsableInstances: &usable, InFlightInstances: &busy, Instances: instanceStates(all),
		Summary: fmt.Sprintf("checked %s: %d DV subscription instances, %d usable, %d in flight (%s)", s.cfg.Endpoint, len(all), usable, busy, statusCounts(all))}, nil
}

// countInstances: usable ones can take an application now (inactive, or bound to a
// Certificate and not in flight); busy ones have one in flight.
func countInstances(all []aliyun.Instance) (usable, busy int) {
	for _, inst := range all {
		switch {
		case inst.Status == aliyun.InstancePending:
			busy++
		case inst.Status == aliyun.InstanceInactive && !strings.HasPrefix(inst.CertificateName, bindingPrefix):
			usable++
		case usableStatus(inst.Status) && strings.HasPrefix(inst.CertificateName, bindingPrefix):
			usable++
		}
	}
	return usable, busy
}
