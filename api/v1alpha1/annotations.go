package v1alpha1

// Annotations and the finalizer the issuer writes on cert-manager
// CertificateRequests to remember a CAS order across restarts. They are
// written by patch, never by update.
const (
	// AnnotationPrefix starts every annotation this project writes.
	AnnotationPrefix = GroupName + "/"

	// AnnotationOrderID is the CAS 2020-04-07 order id of the request.
	AnnotationOrderID = AnnotationPrefix + "order-id"
	// AnnotationInstanceID is the CAS 2018-07-13 certificate instance
	// reserved or ordered for the request.
	AnnotationInstanceID = AnnotationPrefix + "instance-id"
	// AnnotationCreating is the time (RFC 3339) a create call was about to be
	// made whose answer is not yet recorded; with no order id next to it, the
	// order is looked up rather than created again.
	AnnotationCreating = AnnotationPrefix + "creating"
	// AnnotationOrderState is, as JSON, the part of the order state that
	// has no annotation of its own: when the order was placed and the
	// validation records to clean up. Every field of the state lives in
	// exactly one annotation.
	AnnotationOrderState = AnnotationPrefix + "order-state"

	// AnnotationStateMAC authenticates the order state annotations above:
	// a MAC the controller computes with a key of its own over the
	// request's UID, name and state. State without a valid MAC for the very
	// request carrying it is ignored.
	AnnotationStateMAC = AnnotationPrefix + "state-mac"
	// AnnotationAdoptedKeyMAC authenticates, on a next-private-key Secret,
	// the instance-id annotation recorded next to an adopted key.
	AnnotationAdoptedKeyMAC = AnnotationPrefix + "adopted-key-mac"

	// FinalizerCancelOrder keeps a CertificateRequest with a pending remote
	// order until the order is cancelled (so its quota comes back) or done.
	FinalizerCancelOrder = AnnotationPrefix + "cancel-order"
)
