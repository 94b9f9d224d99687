// Package signer is the Alibaba Cloud side of the issuer: it turns a plain
// certificate request into a CAS order and reports what became of it. It has
// no Kubernetes imports; the controllers translate to and from
// CertificateRequests and persist the order state this package hands them.
package signer

import (
	"context"
	"crypto/x509"
	"time"
)

// Request is one certificate request, as the controller hands it over.
type Request struct {
	// Name identifies the request for humans and remote labels
	// ("namespace/name"); it is never used as a secret.
	Name string
	// CSRPEM is the PEM-encoded PKCS#10 request from cert-manager.
	CSRPEM []byte
	// Duration is what the user asked for; CAS does not honour it, so the
	// result reports the real NotAfter instead.
	Duration time.Duration
	// IsCA and Usages are checked: CAS issues TLS server leaves only.
	IsCA   bool
	Usages []string
	// NextPrivateKeySecret is cert-manager's "next private key" Secret name
	// (annotation cert-manager.io/private-key-secret-name), used by the DV
	// flow to adopt the server-generated key. Empty when absent.
	NextPrivateKeySecret string
	// AdoptedInstanceID is the CAS 2018-07-13 instance recorded on that
	// Secret when the issuer adopted the instance's server-generated key
	// into it, set by the controller (from an uncached read) only when that
	// Secret's key is the key of this request's CSR. The DV flow answers
	// the request from that instance instead of ordering again.
	AdoptedInstanceID string
	// InstanceTaken, when set, reports whether another request already
	// holds a CAS 2018-07-13 instance (its instance-id annotation), so that
	// the DV flow never picks an instance twice, even across restarts.
	InstanceTaken func(ctx context.Context, instanceID string) (bool, error)
	// Owner is what a CAS V2.0 subscription instance is bound to: the
	// Certificate the request is for ("namespace/name"), or the request's
	// Name when it was not made for a Certificate. Renewals of one
	// Certificate reuse its instance; no other Certificate gets it.
	Owner string
	// OrderTaken, when set, reports whether another request holds a CAS
	// order, so that recovering a create whose answer was lost never takes
	// over another request's order for the same names.
	OrderTaken func(ctx context.Context, orderID string) (bool, error)
	// State is the order state persisted so far (empty on the first call).
	State OrderState
}

// OrderState is everything that must survive a restart so that a request is
// never ordered twice. The controller stores it on the CertificateRequest
// (annotations, written by patch) whenever the signer calls StateStore.Save,
// and with its next write when the signer calls StateStore.Learn.
type OrderState struct {
	// OrderID is the CAS 2020-04-07 order id, once known.
	OrderID string `json:"orderID,omitempty"`
	// InstanceID is the CAS 2018-07-13 certificate instance reserved or
	// ordered for this request.
	InstanceID string `json:"instanceID,omitempty"`
	// Creating is set just before a create call whose answer is not yet
	// recorded. Seeing it without an id means "a create may have happened":
	// the signer looks the order up instead of creating again.
	Creating *time.Time `json:"creating,omitempty"`
	// EmptyListings counts the recovery listings that found no order
	// after a create whose answer was lost (see Config.SettleTime).
	EmptyListings int `json:"emptyListings,omitempty"`
	// OrderedAt is when the order was placed (the Creating time of the
	// create that produced OrderID). The poll interval backs off with the
	// time since; when absent, polling starts again at the first interval.
	OrderedAt *time.Time `json:"orderedAt,omitempty"`
	// Validation records what the issuer created remotely to prove domain
	// ownership (e.g. Alidns record ids), so it can be cleaned up.
	ValidationRecords []string `json:"validationRecords,omitempty"`
	// PreviousCertificateID is the latest CertificateId of the CAS V2.0
	// instance before this request's application: an issued certificate
	// with another id is this request's.
	PreviousCertificateID string `json:"previousCertificateID,omitempty"`
	// CSRDigest identifies the CSR this request wrote onto its V2.0
	// instance, so that an application found there is known to be its own.
	CSRDigest string `json:"csrDigest,omitempty"`
	// Submitted records that the V2.0 submission was reported a success
	// (GetTaskAttribute), so that it is not asked again.
	Submitted bool `json:"submitted,omitempty"`
	// OrderAPI and Endpoint are what the order was placed with (defaults
	// applied), recorded by the controller, which follows and cancels the
	// order with them even after the issuer is edited. Empty (state
	// recorded before they were) means the issuer's current ones. The
	// signer neither reads nor sets them.
	OrderAPI string `json:"orderAPI,omitempty"`
	Endpoint string `json:"endpoint,omitempty"`
}

// StateStore persists OrderState. Save makes it durable before the signer
// goes on: the signer calls it before every remote create (the intent to
// order, the instance about to be written to, a DNS record about to be
// created) and wherever a later call depends on the state having been
// recorded; if Save fails the signer must not make the call.
//
// Learn hands over state learned from an answer (the id a create returned,
// a submission accepted): the controller records it with the write of the
// request it makes anyway after Sign (its status, or the finalizer's
// removal), not with a write of its own, and any later Save carries it
// too, as the signer saves its whole state. A crash before that write
// leaves the state saved last, whose creating mark makes the next Sign
// look the order up, as after a create whose answer was lost.
type StateStore interface {
	Save(ctx context.Context, state OrderState) error
	Learn(state OrderState)
}

// OutcomeKind tells the kinds of Outcome apart.
type OutcomeKind string

// The kinds of Outcome; each sets its own field of Outcome.
const (
	// OutcomeIssued: Certificate is a certificate for the request's key.
	OutcomeIssued OutcomeKind = "Issued"
	// OutcomePending: Pending says what the order waits for.
	OutcomePending OutcomeKind = "Pending"
	// OutcomeAdoptKey: the order is issued for a key Alibaba Cloud
	// generated; AdoptKey is that key, Certificate its certificate.
	OutcomeAdoptKey OutcomeKind = "AdoptKey"
)

// Outcome is what one successful Sign call achieved: exactly one kind,
// named by Kind. Failures are errors of the classes in errors.go instead.
type Outcome struct {
	Kind OutcomeKind
	// Certificate is set for OutcomeIssued and OutcomeAdoptKey.
	Certificate *Certificate
	// Pending is set for OutcomePending.
	Pending *Pending
	// AdoptKey is set for OutcomeAdoptKey.
	AdoptKey *AdoptKey
	// Notes are facts worth telling people with the outcome (e.g. "the
	// requested duration 2160h is not honoured by CAS").
	Notes []string
	// Warnings are what people should know about the order just placed
	// (e.g. subject fields CAS will not put in the certificate); each is
	// told once, as a Warning Event.
	Warnings []string
}

func pendingOutcome(p *Pending) Outcome { return Outcome{Kind: OutcomePending, Pending: p} }

// Certificate is an issued certificate.
type Certificate struct {
	// Chain is the leaf followed by intermediates, PEM, "\n" line endings.
	Chain []byte
	// CA is the root certificate PEM when known.
	CA []byte
	// Leaf is the parsed leaf of Chain.
	Leaf *x509.Certificate
	// Order names the order that issued it for people, e.g. "CAS order 42"
	// or "the DV order on CAS instance cas-ivauto-1".
	Order string
}

// Summary is the one sentence that tells people what was issued, e.g.
// "CAS order 42 issued a certificate valid until 2027-02-26T00:00:00Z".
func (c *Certificate) Summary() string {
	s := c.Order + " issued a certificate"
	if c.Leaf != nil {
		s += " valid until " + c.Leaf.NotAfter.UTC().Format(time.RFC3339)
	}
	return s
}

// AdoptKey is the private key the CA generated for a DV order on instance
// InstanceID, whose certificate is issued but not for the request's key:
// the controller writes it into the request's next-private-key Secret, so
// cert-manager re-issues with it. KeyPEM is a secret: never log it or put
// it in an Event or condition.
type AdoptKey struct {
	KeyPEM     []byte
	InstanceID string
}

// Pending says what the order waits for and when to look again.
type Pending struct {
	// Reason is a short CamelCase word (e.g. "DomainVerify", "CAReview").
	Reason string
	// Message tells a person exactly what is awaited, e.g.
	// "create DNS TXT record _dnsauth.www.example.com = <value>".
	Message string
	// RetryAfter is when to call Sign again.
	RetryAfter time.Duration
	// Validation is the record or file the CA checks, when known.
	Validation *Validation
	// Notify: people learn of this step from an Event too, not only from
	// the request's condition: the issuer changed something outside the
	// cluster (it made the validation record in Alidns), or the account
	// lacks what only a person can provide (a usable instance). Other
	// pending steps are told by the condition only.
	Notify bool
	// Brief: a step that takes seconds by nature (a V2.0 submission being
	// processed) and is looked at again within seconds; the controller
	// does not write it while the order is fresh, as the next look
	// replaces it before anyone reads it.
	Brief bool
	// Rebuildable: what this step learned (StateStore.Learn) the next Sign
	// rebuilds from Alibaba Cloud with the look it makes anyway (a V2.0
	// submission shows on its instance, pending with the request's CSR),
	// so a step left unwritten need not write it: a crash before the next
	// write resumes from the instance, as a crash right after the call did.
	Rebuildable bool
}

// Validation is a domain-ownership proof the CA waits for.
type Validation struct {
	Domain string
	// Method is "DNS" or "FILE".
	Method string
	// DNS: fully-qualified record name, type (TXT/CNAME) and value.
	RecordName  string
	RecordType  string
	RecordValue string
	// FILE: URL (with scheme) and content.
	FileURL     string
	FileContent string
}

// Health is what an issuer check learned about the account.
type Health struct {
	// Summary tells people what was checked and what is left, e.g.
	// "checked https://cas.aliyuncs.com: 17 of 20 certificates of
	// digicert-free-1-free left".
	Summary string
	// Quota is the package quota of the configured product (CSR flow);
	// nil when the flow has none.
	Quota *Quota
	// UsableInstances is the number of purchased, unused DV instances (DV
	// flow); nil when the flow has none.
	UsableInstances *int
	// InFlightInstances is the number of V2.0 subscription instances with
	// an application in flight (Instance flow); nil when the flow has none.
	InFlightInstances *int
	// Instances counts the V2.0 subscription instances the issuer may use
	// by state (Instance flow); nil when the flow has none.
	Instances *InstanceStates
}

// InstanceStates partitions subscription instances by their Status:
// Inactive ones can take a first application, Pending ones have one in
// flight, Issued ones (normal, willExpire) hold a certificate, Other ones
// (expired, refunded, closed, unknown) can take nothing.
type InstanceStates struct {
	Inactive, Pending, Issued, Other int
}

// Quota is a CAS package's certificate count.
type Quota struct {
	Total, Used, Issued int
}

// Cancelled says what Cancel gave back, for people.
type Cancelled struct {
	// Reason is ReasonOrderCancelled when an order or reservation was
	// given back, ReasonValidationRemoved when only validation records
	// were (an issued order, or one that cannot be cancelled), empty when
	// nothing was held.
	Reason string
	// Summary is one sentence, e.g. "CAS order 42 cancelled; its quota is
	// returned".
	Summary string
}

// Signer places and follows orders for one issuer configuration.
type Signer interface {
	// Sign advances the request's order by one step: validates locally,
	// creates the order (persisting intent first), or polls it. It returns
	// an Outcome of a known Kind, or an error.
	Sign(ctx context.Context, req Request, store StateStore) (Outcome, error)
	// Cancel gives back what a request holds remotely (a pending order,
	// validation records) after it was denied, failed, deleted or issued.
	// Its errors say what was not given back.
	Cancel(ctx context.Context, state OrderState) (Cancelled, error)
	// Check makes one cheap authenticated call and reports the account state.
	Check(ctx context.Context) (Health, error)
}

// Name names what a state holds remotely, for people.
func (st OrderState) Name() string {
	switch {
	case st.OrderID != "":
		return "CAS order " + st.OrderID
	case st.InstanceID != "":
		return "CAS instance " + st.InstanceID
	case st.Creating != nil:
		return "the CAS order being created"
	}
	return "the domain validation records"
}
