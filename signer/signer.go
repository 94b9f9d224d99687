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
	// State is the order state persisted so far (empty on the first call).
	State OrderState
}

// OrderState is everything that must survive a restart so that a request is
// never ordered twice. The controller stores it on the CertificateRequest
// (annotations, written by patch) whenever the signer calls StateStore.Save.
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
	// OrderedAt is when the order was placed (the Creating time of the
	// create that produced OrderID). The poll interval backs off with the
	// time since; when absent, polling starts again at the first interval.
	OrderedAt *time.Time `json:"orderedAt,omitempty"`
	// Validation records what the issuer created remotely to prove domain
	// ownership (e.g. Alidns record ids), so it can be cleaned up.
	ValidationRecords []string `json:"validationRecords,omitempty"`
}

// StateStore persists OrderState durably before the signer goes on. A signer
// calls Save before every remote create and right after learning the remote
// id; if Save fails the signer must not make the remote call.
type StateStore interface {
	Save(ctx context.Context, state OrderState) error
}

// Result is the outcome of one Sign call: either issued (Chain set) or
// pending (Pending set). Failures are errors of the classes in errors.go.
type Result struct {
	// Chain is the leaf followed by intermediates, PEM, "\n" line endings.
	Chain []byte
	// CA is the root certificate PEM when known.
	CA []byte
	// Leaf is the parsed leaf of Chain.
	Leaf *x509.Certificate
	// Pending is set while the order waits (validation, CA review).
	Pending *Pending
	// AdoptKeyPEM, when set, is the private key (PEM) the CA generated for
	// the DV order on instance AdoptInstanceID, whose certificate Leaf is
	// issued but not for the request's key: the controller writes it into
	// the request's next-private-key Secret, so cert-manager re-issues with
	// it. It is a secret: never log it or put it in an Event or condition.
	AdoptKeyPEM     []byte
	AdoptInstanceID string
	// Notes are facts worth an Event (e.g. "CAS issued until 2027-02-26;
	// the requested duration 2160h is not honoured by CAS").
	Notes []string
	// State, when set with a certificate, is order state not saved yet
	// (an order that was issued on its first look): the controller records
	// it together with the request's last write. Saving it separately
	// would cost one more API-server write per certificate, and until the
	// request is Ready the Creating mark already covers a crash.
	State *OrderState
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
	// Package quota for the configured product (CSR API).
	Total, Used, Issued int
	// UsableInstances is the number of purchased, unused DV instances
	// (DVOrder API); -1 when not applicable.
	UsableInstances int
	// Warnings are problems the check noticed that do not stop the issuer.
	Warnings []string
}

// Signer places and follows orders for one issuer configuration.
type Signer interface {
	// Sign advances the request's order by one step: validates locally,
	// creates the order (persisting intent first), or polls it.
	Sign(ctx context.Context, req Request, store StateStore) (Result, error)
	// Cancel gives back what a request holds remotely (a pending order,
	// validation records) after it was denied or deleted before issuance.
	Cancel(ctx context.Context, state OrderState) error
	// Check makes one cheap authenticated call and reports the account state.
	Check(ctx context.Context) (Health, error)
}
