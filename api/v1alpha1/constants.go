package v1alpha1

// Kind names, as cert-manager issuer references spell them.
const (
	IssuerKind        = "AliyunCASIssuer"
	ClusterIssuerKind = "AliyunCASClusterIssuer"
)

// Order APIs (spec.orderAPI).
const (
	// OrderAPICSR orders with CAS 2020-04-07 CreateCertificateWithCsrRequest:
	// the private key never leaves the cluster.
	OrderAPICSR OrderAPI = "CSR"
	// OrderAPIDVOrder orders with CAS 2018-07-13 CreateDVOrderAudit on a
	// purchased certificate instance: Alibaba Cloud generates the key.
	OrderAPIDVOrder OrderAPI = "DVOrder"
	// OrderAPIInstance writes the CSR onto a CAS V2.0 subscription instance
	// (UpdateInstance) and applies (ApplyCertificate): the private key never
	// leaves the cluster. The default for new issuers.
	OrderAPIInstance OrderAPI = "Instance"
)

// Domain validation methods (spec.validation.method).
const (
	ValidationMethodDNS  ValidationMethod = "DNS"
	ValidationMethodFILE ValidationMethod = "FILE"
)

// DNS validation providers (spec.validation.dns.provider).
const (
	// DNSProviderManual tells a person which record to create and waits.
	DNSProviderManual DNSProvider = "manual"
	// DNSProviderAlidns creates and removes the record in Alibaba Cloud DNS.
	DNSProviderAlidns DNSProvider = "alidns"
)

// Secret keys read when an AccessKeySecretRef names none (the
// +kubebuilder:default markers of AccessKeySecretRef say the same). The
// defaults of the order flow itself (endpoint, product, poll interval, ...)
// live in the signer package's Config.WithDefaults; a test holds the API's
// default markers equal to them.
const (
	DefaultAccessKeyIDKey = "access-key-id"
	DefaultAccessKeyKey   = "access-key-secret"
)

// Condition types and reasons written on issuers.
const (
	// ConditionReady is True once a real API call with the issuer's
	// credentials succeeded for the current generation.
	ConditionReady = "Ready"

	// ReasonChecked: the last health check succeeded.
	ReasonChecked = "Checked"
	// ReasonSecretNotFound: the referenced Secret does not exist.
	ReasonSecretNotFound = "SecretNotFound"
	// ReasonSecretKeyMissing: the Secret lacks a referenced key, or it is empty.
	ReasonSecretKeyMissing = "SecretKeyMissing"
	// ReasonCheckFailed: the health check call failed for a reason the
	// signer did not classify.
	ReasonCheckFailed = "CheckFailed"
)
