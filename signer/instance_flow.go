package signer

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The CAS 2020-04-07 "SSL Certificate Management V2.0" flow: a certificate is applied for on
// a purchased subscription instance, which carries a series of certificates over its
// subscription. Per request:
//
//  1. choose an instance: the one bound to the request's Certificate (its CertificateName),
//     else an inactive one bound to nobody; never one in flight or held by another live
//     request (the account's listing is shared: instance_listing.go);
//  2. record the instance (and its latest CertificateId) on the request, then UpdateInstance
//     with the CSR (GenerateCsrMethod=upload), its KeyAlgorithm, the validation method and the
//     contacts;
//  3. re-read the instance: when the platform already submitted (pending), skip
//     ApplyCertificate, else apply (once the account has shown that UpdateInstance does not
//     submit, apply at once: a submission by the platform makes ApplyCertificate refuse, and
//     the instance is read then);
//  4. follow GetInstanceDetail for the validation records and for a certificate with a new id,
//     and GetTaskAttribute (TaskId = instance id) while the instance shows neither, to tell a
//     refused submission; the looks follow the expected issuance (poll.go);
//  5. download it (GetUserCertificateDetail), check it against the CSR, remove the records.
//
// A restart at any step resumes from the instance's state: an instance found pending with the
// request's CSR is the request's application, and ApplyCertificate on a pending instance is
// refused (OperationDenied.StatusNotSupport), so nothing is submitted twice.

type instanceSigner struct {
	flow
	// account is shared with the other issuers of the Alibaba Cloud account: the instance
	// reservations, the listing, what UpdateInstance does there.
	account   *account
	instances *instancePicker

	contactMu sync.Mutex
	contacts  []int64 // resolved contact ids
}

func newInstanceSigner(base flow) *instanceSigner {
	acct := accountOf(base.cfg)
	return &instanceSigner{flow: base, account: acct, instances: acct.picker}
}

// instanceOrder names a request's application for people.
func instanceOrder(id string) string { return "the application on CAS instance " + id }

// codeUpdateProtection is UpdateInstance's answer while the instance is protected against
// updates for a while, which Terraform retries.
const codeUpdateProtection = "InvalidStatus.UpdateProtection"

// firstLook is how long after ApplyCertificate the application is first looked at.
const firstLook = 2 * time.Second

// Sign advances the request's application by one step.
func (s *instanceSigner) Sign(ctx context.Context, req Request, store StateStore) (Outcome, error) {
	csr, err := CheckRequest(req, "")
	if err != nil {
		return Outcome{}, err
	}
	alg, err := instanceKeyAlgorithm(csr)
	if err != nil {
		return Outcome{}, err
	}
	a := &application{s: s, req: req, csr: csr, alg: alg, store: store, st: req.State}
	if a.st.InstanceID == "" {
		return a.start(ctx)
	}
	s.instances.reserve(a.st.InstanceID, a.owner())
	d, err := s.detail(ctx, a.st.InstanceID)
	if err != nil {
		return Outcome{}, err
	}
	if a.st.OrderedAt == nil {
		return a.resume(ctx, d)
	}
	return a.follow(ctx, d)
}

// application is one Sign call's view of a request.
type application struct {
	s     *instanceSigner
	req   Request
	csr   *CheckedCSR
	alg   string
	store StateStore
	st    OrderState
}

func (a *application) name() string { return instanceOrder(a.st.InstanceID) }

func (a *application) save(ctx context.Context, what string) error {
	if err := a.store.Save(ctx, a.st); err != nil {
		return Transient(ReasonStateNotSaved, 0, fmt.Errorf("recording %s: %w", what, err))
	}
	return nil
}

// start picks an instance and records it before anything is written onto it.
func (a *application) start(ctx context.Context) (Outcome, error) {
	if err := a.s.checkNamesBeforeOrdering(ctx, a.csr); err != nil {
		return Outcome{}, err
	}
	contacts, err := a.s.contactIDs(ctx)
	if err != nil {
		return Outcome{}, err
	}
	inst, wait, err := a.s.choose(ctx, a.req, a.csr)
	if err != nil || wait != nil {
		return pendingOr(wait, err)
	}
	now := a.s.now().UTC()
	a.st.InstanceID, a.st.PreviousCertificateID = inst.InstanceID, string(inst.CertificateID)
	a.st.CSRDigest, a.st.Creating = csrDigest(string(a.req.CSRPEM)), &now
	if err := a.save(ctx, "CAS instance "+inst.InstanceID+" before writing the application onto it"); err != nil {
		a.s.instances.unreserve(inst.InstanceID, a.owner())
		return Outcome{}, err
	}
	return a.configure(ctx, contacts)
}

func pendingOr(p *Pending, err error) (Outcome, error) {
	if err != nil {
		return Outcome{}, err
	}
	return pendingOutcome(p), nil
}

// ours reports whether the application on the instance is this request's: the CSR on the
// instance is the request's. An instance that does not echo its CSR, or not as PEM (what
// GetInstanceDetail echoes is unverified), is trusted: taking another instance could apply
// twice.
func (a *application) ours(d *aliyun.Instance) bool {
	return csrOnInstanceIs(d, a.st.CSRDigest)
}

// csrOnInstanceIs reports whether the instance's CSR is the one of digest, or unknown.
func csrOnInstanceIs(d *aliyun.Instance, digest string) bool {
	got := csrDigest(d.CSR)
	return got == "" || got == digest
}

// resume continues a request whose application is not known to have been submitted: a crash
// or a lost answer after the instance was recorded.
func (a *application) resume(ctx context.Context, d *aliyun.Instance) (Outcome, error) {
	switch {
	case d.Status == aliyun.InstancePending && a.ours(d):
		return a.submitted(ctx, d)
	case d.Status == aliyun.InstancePending:
		return Outcome{}, a.release(ctx, ReasonInstanceInUse, "CAS instance %s has an application in flight that is not this request's; another instance is chosen", d.InstanceID)
	case deadStatus(d.Status):
		return Outcome{}, a.release(ctx, ReasonInstanceUnusable, "CAS instance %s is %s; another instance is chosen", d.InstanceID, d.Status)
	case a.issuedSince(d) && a.ours(d):
		// Applied, and issued, before the submission was recorded: it is this request's
		// certificate if it carries the CSR's key.
		if out, err := a.download(ctx, d); err == nil || !isKeyMismatch(err) {
			return out, err
		}
	}
	contacts, err := a.s.contactIDs(ctx)
	if err != nil {
		return Outcome{}, err
	}
	return a.configure(ctx, contacts)
}

// release gives the instance back (nothing of this request is on it) so that the next Sign
// chooses again; the error says why.
func (a *application) release(ctx context.Context, reason, format string, args ...any) error {
	if err := a.forget(ctx); err != nil {
		return err
	}
	return Transient(reason, 0, fmt.Errorf(format, args...))
}

// forget drops the instance from the request's state and from the reservations.
func (a *application) forget(ctx context.Context) error {
	id := a.st.InstanceID
	a.st.InstanceID, a.st.Creating, a.st.PreviousCertificateID = "", nil, ""
	if err := a.save(ctx, "the release of CAS instance "+id); err != nil {
		return err
	}
	a.s.instances.unreserve(id, a.owner())
	return nil
}

// configure writes the application onto the instance, re-reads it and applies unless the
// platform already did.
func (a *application) configure(ctx context.Context, contacts []int64) (Outcome, error) {
	s, id := a.s, a.st.InstanceID
	reissue := "disable"
	if s.cfg.Instance.AutoReissue {
		reissue = "enable"
	}
	err := s.client.UpdateInstance(ctx, aliyun.InstanceUpdate{
		InstanceID: id, CSR: string(csrPEM(a.csr.CSR)), KeyAlgorithm: a.alg, ValidationMethod: instanceValidationMethod(s.cfg.ValidationMethod),
		ContactIDs: contacts, CertificateName: bindingName(a.owner()), AutoReissue: reissue,
		Tags: []aliyun.InstanceTag{{Key: bindingTagKey, Value: bindingTagValue(a.owner())}},
	})
	// The reused listing may still show the instance unbound: the reservation, kept for the
	// owner, is what keeps other requests of this process off it.
	if err != nil {
		return a.notWritten(ctx, err, "writing the application for %s onto CAS instance %s", a.csr.MainDomain, id)
	}
	binding := bindingName(a.owner())
	s.account.listing.change(id, func(inst *aliyun.Instance) { inst.CertificateName = binding })
	// Re-read before applying: some instances are submitted by UpdateInstance itself (reported
	// for BUY DV instances, unverified), and a second submission must never be tried.
	d, err := s.detail(ctx, id)
	if err != nil {
		return Outcome{}, err
	}
	if d.Status == aliyun.InstancePending {
		if a.ours(d) {
			return a.submitted(ctx, d) // submitted by UpdateInstance itself
		}
		return Outcome{}, a.release(ctx, ReasonInstanceInUse, "CAS instance %s took another application; another instance is chosen", id)
	}
	if !a.ours(d) {
		return Outcome{}, Transient(ReasonUnknownOrderState, 0, fmt.Errorf("CAS instance %s does not show the CSR just written; it is written again", id))
	}
	if a.issuedSince(d) {
		// Submitted by UpdateInstance itself and issued already (the CA can be that quick):
		// the certificate is this request's if it carries the CSR's key.
		if out, err := a.download(ctx, d); err == nil || !isKeyMismatch(err) {
			return out, err
		}
	}
	// Not in flight: the latest certificate is not this request's.
	a.st.PreviousCertificateID = string(d.CertificateID)
	if err := s.client.ApplyCertificate(ctx, id); err != nil {
		if aliyun.IsCode(err, aliyun.CodeStatusNotSupport) {
			// Submitted by the platform between the re-read and now.
			if d, derr := s.detail(ctx, id); derr == nil && d.Status == aliyun.InstancePending && a.ours(d) {
				return a.submitted(ctx, d)
			}
		}
		return a.notWritten(ctx, err, "applying for %s on CAS instance %s", a.csr.MainDomain, id)
	}
	s.account.listing.change(id, func(inst *aliyun.Instance) { inst.Status = aliyun.InstancePending })
	s.ordered()
	a.markSubmitted()
	// The CA takes seconds to take the submission and publish its records: looking at once
	// would cost a call that can only answer "processing".
	return pendingOutcome(&Pending{Reason: ReasonSubmitting, RetryAfter: min(a.s.cfg.PollInterval, firstLook), Brief: true, Rebuildable: true,
		Message: fmt.Sprintf("%s for %s is submitted to the CA", a.name(), a.csr.MainDomain)}), nil
}

// notWritten handles a failed UpdateInstance or ApplyCertificate.
func (a *application) notWritten(ctx context.Context, err error, format string, args ...any) (Outcome, error) {
	id := a.st.InstanceID
	if aliyun.IsCode(err, aliyun.CodeStatusNotSupport) {
		// Already submitted (by us, or by someone else) or otherwise busy.
		d, derr := a.s.detail(ctx, id)
		if derr != nil {
			return Outcome{}, derr
		}
		if d.Status == aliyun.InstancePending && a.ours(d) {
			return a.submitted(ctx, d)
		}
		if a.st.Creating != nil && a.s.now().Sub(*a.st.Creating) < reflectGrace && a.ours(d) {
			// Perhaps this request's own submission, not shown by the instance yet.
			return Outcome{}, Transient(ReasonSubmitting, submitPoll, fmt.Errorf("CAS instance %s refuses the application (status %s): %w; looking again", id, d.Status, err))
		}
		return Outcome{}, a.release(ctx, ReasonInstanceInUse, "CAS instance %s refuses the application (status %s): %v; another instance is chosen", id, d.Status, err)
	}
	if aliyun.IsCode(err, codeUpdateProtection) {
		// Transient protection after a transition: retried [TF], the instance kept.
		return Outcome{}, Transient(ReasonInstanceBusy, submitPoll, fmt.Errorf("CAS instance %s refuses updates for now: %w", id, err))
	}
	if e, ok := aliyun.AsError(err); ok && (e.OutcomeUnknown || e.Class == aliyun.Transient) {
		// Maybe written, maybe submitted: the next Sign reads the instance first.
		return Outcome{}, withContext(err, format, args...)
	}
	cerr := withContext(err, format, args...)
	if p, ok := AsPermanent(cerr); ok {
		// Certainly refused, nothing submitted: give the instance back.
		if ferr := a.forget(ctx); ferr != nil {
			return Outcome{}, ferr
		}
		reason := p.Reason
		switch {
		case aliyun.IsCode(err, "DomainAndProductNotMatch", "InvalidParameter.DomainCount"):
			reason = ReasonInstanceCapacity
		case aliyun.IsCode(err, "InvalidParameter.KeyAlgorithm"):
			reason = ReasonInstanceKeyUnsupported
		case aliyun.IsCode(err, "InvalidContactId", "InvalidParameter.ContactIdList"):
			reason = ReasonInvalidContact // a contact of spec.instance.contactIDs
		}
		return Outcome{}, &PermanentError{Reason: reason, Err: fmt.Errorf("%w; nothing was submitted", p.Err)}
	}
	return Outcome{}, cerr
}

// submitted records that the application is on its way and follows it.
func (a *application) submitted(ctx context.Context, d *aliyun.Instance) (Outcome, error) {
	a.markSubmitted()
	return a.follow(ctx, d)
}

// markSubmitted records that the application was submitted (at the Creating mark). It rides
// on the controller's next write (a patch of its own when the step after it is not written):
// a crash before it resumes from the instance, as a crash right after ApplyCertificate did.
func (a *application) markSubmitted() {
	at := a.s.now().UTC()
	if a.st.Creating != nil {
		at = *a.st.Creating
	}
	a.st.Creating, a.st.OrderedAt = nil, &at
	a.store.Learn(a.st)
}

func (a *application) owner() string {
	if a.req.Owner != "" {
		return a.req.Owner
	}
	return a.req.Name
}

// instanceValidationMethod is UpdateInstance's ValidationMethod for the issuer's method.
func instanceValidationMethod(m string) string {
	if m == "FILE" {
		return "HTTP"
	}
	return "DNS"
}

// issuedSince reports whether the instance's latest certificate is issued and newer than the
// one recorded before the application.
func (a *application) issuedSince(d *aliyun.Instance) bool {
	id := string(d.CertificateID)
	return id != "" && id != "0" && id != a.st.PreviousCertificateID && d.CertificateStatus == aliyun.CertificateIssued
}

// detail reads an instance; one that does not exist is a permanent failure.
func (s *instanceSigner) detail(ctx context.Context, id string) (*aliyun.Instance, error) {
	d, err := s.client.GetInstanceDetail(ctx, id)
	if err != nil {
		if isNotFound(err) {
			return nil, Permanent(ReasonInstanceNotFound, "CAS instance %s does not exist: %v", id, err)
		}
		return nil, withContext(err, "reading CAS instance %s", id)
	}
	if d.InstanceID == "" {
		d.InstanceID = id
	}
	s.account.listing.learn(d)
	return d, nil
}

func isNotFound(err error) bool {
	e, ok := aliyun.AsError(err)
	return ok && (e.HTTPStatus == 404 || aliyun.IsCode(err, "NotFound", "InvalidInstanceId.NotFound"))
}
