package controllers

import (
	"fmt"
	"strings"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// The decisions of the CertificateRequest reconciler, as pure functions of
// what it read: which step a request needs (stepOf), and what a Sign's
// outcome or error means for the request (decide). Applying them (status
// patch, Event, finalizer) is attempt.apply's job; keeping them pure lets a
// table test cover every class without an API server.

// step is what a request needs next.
type step int

const (
	// stepRelease: deleted or finished; give back what it holds.
	stepRelease step = iota + 1
	// stepDeny: denied; mark it so, then release.
	stepDeny
	// stepAwaitApproval: not approved yet, within approvalGrace: look
	// again without writing anything.
	stepAwaitApproval
	// stepReportUnapproved: still not approved after approvalGrace: say
	// so in the Ready condition.
	stepReportUnapproved
	// stepSign: approved; resolve the issuer and sign.
	stepSign
)

// stepOf is the step a request (read from the API server) needs; for
// stepAwaitApproval also when to look again.
func stepOf(cr *cmapi.CertificateRequest, now time.Time) (step, time.Duration) {
	switch {
	case cr.DeletionTimestamp != nil, isTerminal(cr):
		return stepRelease, 0
	case isDenied(cr):
		return stepDeny, 0
	case !isApproved(cr):
		// Never sign anything unapproved; the approval is an update that
		// wakes this request again. cert-manager's approver usually answers
		// within milliseconds: only a request still unapproved after
		// approvalGrace gets a "waiting for approval" condition, which
		// saves a status write (and a conflict with the approval) per
		// certificate.
		if age := now.Sub(cr.CreationTimestamp.Time); age < approvalGrace {
			return stepAwaitApproval, approvalGrace - age
		}
		return stepReportUnapproved, 0
	}
	return stepSign, 0
}

// followUp is what comes after a verdict's status write.
type followUp int

const (
	// The zero followUp: nothing; look again after verdict.requeue.
	_ followUp = iota
	// thenFinish: issued; drop the finalizer (recording the state the
	// request ended in), or release validation records left over.
	thenFinish
	// thenRelease: failed for good; give back what the request holds.
	thenRelease
	// thenMarkIssuer: an issuer error; mark the issuer not Ready too.
	thenMarkIssuer
)

// verdict is what one Sign means for the request.
type verdict struct {
	// The Ready condition to set.
	status  cmmeta.ConditionStatus
	reason  string
	message string
	// certificate and ca go into the status when issued.
	certificate, ca []byte
	// failed sets status.failureTime.
	failed bool
	// event, when set, is emitted if the condition changed.
	event *note
	// quiet: a pending step looked at again within seconds, just after
	// the order was placed; nothing is written (see quietPending).
	quiet bool
	// learnedCanWait: the state the signer learned in this quiet step is
	// rebuilt by the next Sign (signer.Pending.Rebuildable): it waits for
	// the next write instead of a patch of its own.
	learnedCanWait bool
	// warnings are emitted as Warning Events whatever changed (the signer
	// reports each once).
	warnings []string
	// requeue is when to look again (thenWait).
	requeue time.Duration
	then    followUp
	// issuerReason and issuerMessage are the issuer's condition
	// (thenMarkIssuer).
	issuerReason, issuerMessage string
	// pendingMetric: the request counts as pending (a gauge).
	pendingMetric bool
	// forget: the request's retry backoff starts over.
	forget bool
	// retry: a transient error; requeue is the backoff.
	retry bool
	// awaitIssuer: the request waits for its issuer, which wakes it.
	awaitIssuer bool
}

// note is an Event.
type note struct {
	typ, reason, action, text string
	// conditionSays: a CertificateRequest's Ready condition says the
	// same, so only a CertificateSigningRequest (which has no Ready
	// condition) gets the Event. An Event per pending step or per
	// issuance would be one more API-server write per certificate for
	// what `kubectl describe` already shows (the issuance is also on the
	// Certificate, where cert-manager records its own Events, and in the
	// metrics); Events stay for what an admin must not miss: failures,
	// every kind of trouble, and changes the issuer made outside the
	// cluster (a DNS record).
	conditionSays bool
}

// signResult is everything decide looks at.
type signResult struct {
	// lastMessage is what the request last told people (the Ready
	// message as read), for "once per change" decisions.
	lastMessage string
	// nextKeySecret is the request's next private key Secret (annotation
	// cert-manager.io/private-key-secret-name), named when a key is adopted.
	nextKeySecret string
	// issuerName names the issuer in messages.
	issuerName string
	outcome    signer.Outcome
	err        error
	// poll is the issuer's poll interval, for outcomes that name no time.
	poll time.Duration
	// sinceOrdered is how long ago the order was placed (zero when no
	// order is recorded).
	sinceOrdered time.Duration
	// backoff is the next retry delay of this request after a transient
	// error.
	backoff time.Duration
	// secrets are scrubbed from every message.
	secrets []string
}

// decide turns a Sign's outcome or error into a verdict.
func decide(in signResult) verdict {
	v := decideOutcome(in)
	v.warnings = in.outcome.Warnings
	return v
}

func decideOutcome(in signResult) verdict {
	if in.err != nil {
		return decideError(in)
	}
	switch in.outcome.Kind {
	case signer.OutcomeIssued:
		cert := in.outcome.Certificate
		// Said once, with the notes: a CertificateRequest's Ready
		// condition says it (no Issued Event: one write less per
		// certificate), a CertificateSigningRequest's Event does.
		msg := scrub(cert.Summary(), in.secrets)
		if len(in.outcome.Notes) > 0 {
			msg += "; " + scrub(strings.Join(in.outcome.Notes, "; "), in.secrets)
		}
		return verdict{
			status: cmmeta.ConditionTrue, reason: cmapi.CertificateRequestReasonIssued, message: msg,
			certificate: cert.Chain, ca: cert.CA,
			event:  &note{typ: "Normal", reason: eventIssued, action: actionSign, text: msg, conditionSays: true},
			then:   thenFinish,
			forget: true,
		}
	case signer.OutcomePending:
		p := in.outcome.Pending
		msg := scrub(p.Message, in.secrets)
		if msg == "" {
			msg = "order pending"
			if p.Reason != "" {
				msg = "order pending: " + p.Reason
			}
		}
		v := verdict{
			status: cmmeta.ConditionFalse, reason: cmapi.CertificateRequestReasonPending, message: msg,
			event:   &note{typ: "Normal", reason: conditionReason(p.Reason, eventOrderPending), action: actionSign, text: msg, conditionSays: !p.Notify},
			requeue: pollDelay(p.RetryAfter, in.poll), pendingMetric: true, forget: true,
		}
		if p.Brief && quietPending(v.requeue, in.sinceOrdered) {
			v.quiet, v.event = true, nil
			v.learnedCanWait = p.Rebuildable
		}
		return v
	case signer.OutcomeAdoptKey:
		// The key is in the next-private-key Secret by now (attempt.sign
		// writes it before deciding).
		c := in.outcome.Certificate
		msg := fmt.Sprintf("%s for a key generated by Alibaba Cloud; the key was adopted into Secret %s and cert-manager will re-issue with the adopted key (no new order is placed)",
			c.Summary(), in.nextKeySecret)
		return verdict{
			status: cmmeta.ConditionFalse, reason: reasonKeyAdopted, message: msg,
			event: &note{typ: "Normal", reason: reasonKeyAdopted, action: actionSign, text: msg},
			// cert-manager replaces this request within moments; look
			// again later in case it does not.
			requeue: in.poll,
			forget:  true,
		}
	}
	return decideError(signResult{lastMessage: in.lastMessage, issuerName: in.issuerName, backoff: in.backoff, secrets: in.secrets,
		err: signer.Transient(reasonUnknownOutcome, 0, fmt.Errorf("the signer answered with an outcome of unknown kind %q", in.outcome.Kind))})
}

// reasonUnknownOutcome: Sign broke its contract (neither an error nor an
// outcome of a known kind); retried like any transient error.
const reasonUnknownOutcome = "UnknownOutcome"

func decideError(in signResult) verdict {
	if pe, ok := signer.AsPermanent(in.err); ok {
		reason := conditionReason(pe.Reason, "Failed")
		detail := scrub(pe.Err.Error(), in.secrets)
		return verdict{
			status: cmmeta.ConditionFalse, reason: cmapi.CertificateRequestReasonFailed, message: reason + ": " + detail,
			failed: true,
			event:  &note{typ: "Warning", reason: reason, action: actionSign, text: detail},
			then:   thenRelease,
			forget: true,
		}
	}
	if ie, ok := signer.AsIssuer(in.err); ok {
		reason := conditionReason(ie.Reason, signer.ReasonInvalidConfig)
		detail := scrub(ie.Err.Error(), in.secrets)
		v := waitForIssuer(fmt.Sprintf("issuer %s not ready: %s", in.issuerName, detail))
		v.then, v.issuerReason, v.issuerMessage = thenMarkIssuer, reason, detail
		return v
	}
	delay := in.backoff
	reason := eventRetrying
	if te, ok := signer.AsTransient(in.err); ok {
		delay = max(delay, te.RetryAfter)
		reason = conditionReason(te.Reason, eventRetrying)
	}
	// Never zero, which would be no requeue at all.
	delay = max(delay, time.Second)
	// Messages carry request ids and change at every attempt: an Event
	// only when the kind of trouble changes.
	prefix := fmt.Sprintf("temporary error, will retry: %s: ", reason)
	v := verdict{
		status: cmmeta.ConditionFalse, reason: cmapi.CertificateRequestReasonPending,
		message: prefix + scrub(in.err.Error(), in.secrets),
		requeue: delay, pendingMetric: true, retry: true,
	}
	if !strings.HasPrefix(in.lastMessage, prefix) {
		v.event = &note{typ: "Warning", reason: reason, action: actionRetry, text: v.message}
	}
	return v
}

// waitForIssuer is the verdict of a request whose issuer is missing or not
// Ready: it waits (the issuer becoming Ready wakes it).
func waitForIssuer(msg string) verdict {
	return verdict{
		status: cmmeta.ConditionFalse, reason: cmapi.CertificateRequestReasonPending, message: msg,
		event:       &note{typ: "Warning", reason: eventIssuerNotReady, action: actionSign, text: msg},
		awaitIssuer: true,
	}
}

// A brief pending step (signer.Pending.Brief: a V2.0 application is first
// looked at 2 s after its submission) of an order placed moments ago is
// not written: its condition would be replaced before anyone reads it.
// Only within quietWindow of the order, so that an order that keeps
// answering "in a moment" is told about all the same.
const (
	quickLook   = 5 * time.Second
	quietWindow = 30 * time.Second
)

// quietPending reports whether a brief pending step looked at again after
// requeue, sinceOrdered after its order was placed, goes unwritten.
func quietPending(requeue, sinceOrdered time.Duration) bool {
	return sinceOrdered > 0 && sinceOrdered < quietWindow && requeue <= quickLook
}

// sinceOrdered is how long ago st's order was placed (zero when none is).
func sinceOrdered(st signer.OrderState, now time.Time) time.Duration {
	if st.OrderedAt == nil {
		return 0
	}
	return max(now.Sub(*st.OrderedAt), time.Nanosecond)
}

// pollDelay is when to look at a pending order again: when the signer
// said, else the issuer's poll interval; never a hot loop.
func pollDelay(retryAfter, poll time.Duration) time.Duration {
	after := retryAfter
	if after <= 0 {
		after = poll
	}
	return max(after, time.Second)
}
