package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// OrderAPI selects the CAS API used to order certificates.
// +kubebuilder:validation:Enum=Instance;CSR;DVOrder
type OrderAPI string

// ValidationMethod is how the CA checks domain ownership.
// +kubebuilder:validation:Enum=DNS;FILE
type ValidationMethod string

// DNSProvider is who creates DNS validation records.
// +kubebuilder:validation:Enum=manual;alidns
type DNSProvider string

// IssuerSpec is the configuration shared by AliyunCASIssuer and
// AliyunCASClusterIssuer.
//
// +kubebuilder:validation:XValidation:rule="self.orderAPI != 'DVOrder' || (has(self.contact.province) && size(self.contact.province) > 0 && has(self.contact.city) && size(self.contact.city) > 0)",message="orderAPI DVOrder requires contact.province and contact.city"
type IssuerSpec struct {
	// Endpoint is the CAS API URL (http or https, with a host).
	// +kubebuilder:default="https://cas.aliyuncs.com"
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="endpoint must be an http or https URL with a host, e.g. https://cas.aliyuncs.com"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Auth says how the issuer authenticates to Alibaba Cloud.
	Auth Auth `json:"auth"`

	// OrderAPI selects the order flow: Instance (CAS 2020-04-07 "SSL
	// Certificate Management V2.0" subscription instances, the key stays in
	// the cluster; the only one a new account can use), CSR (CAS 2020-04-07
	// V1.0 resource packages, the key stays in the cluster) or DVOrder (CAS
	// 2018-07-13 on purchased instances, Alibaba Cloud generates the key).
	// +kubebuilder:default=Instance
	// +optional
	OrderAPI OrderAPI `json:"orderAPI,omitempty"`

	// ProductCode is the CAS certificate product to order
	// (e.g. digicert-free-1-free, geotrust-dv-1-starter).
	// +kubebuilder:default="digicert-free-1-free"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=128
	// +kubebuilder:validation:Pattern=`^[A-Za-z0-9][A-Za-z0-9._-]*$`
	// +optional
	ProductCode string `json:"productCode,omitempty"`

	// Contact is who the CA contacts about orders.
	Contact Contact `json:"contact"`

	// Validation configures how domain ownership is proven.
	// +kubebuilder:default={method: DNS}
	// +optional
	Validation Validation `json:"validation,omitempty"`

	// PollInterval is the longest gap between two looks at a pending order
	// while its certificate is likely soon (looks fall about when the
	// account's orders issue, or every interval when that is unknown); later
	// looks back off up to a bounded maximum. At least 1s.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1s')",message="pollInterval must be a duration of at least 1s"
	// +optional
	PollInterval *metav1.Duration `json:"pollInterval,omitempty"`

	// DVOrder configures orderAPI DVOrder.
	// +optional
	DVOrder *DVOrder `json:"dvOrder,omitempty"`

	// Instance configures orderAPI Instance.
	// +optional
	Instance *InstanceOrder `json:"instance,omitempty"`
}

// Auth holds exactly one of accessKeySecretRef or ambient, optionally with
// an STS AssumeRole on top.
//
// +kubebuilder:validation:XValidation:rule="has(self.accessKeySecretRef) != has(self.ambient)",message="exactly one of accessKeySecretRef or ambient must be set"
type Auth struct {
	// AccessKeySecretRef names a Secret holding an AccessKey pair (and
	// optionally an STS security token). A namespaced issuer reads it from
	// its own namespace, a cluster issuer from the cluster resource namespace.
	// +optional
	AccessKeySecretRef *AccessKeySecretRef `json:"accessKeySecretRef,omitempty"`

	// Ambient uses the credentials the issuer's pod already has: environment
	// variables, RRSA (OIDC) or the ECS RAM role.
	// +optional
	Ambient *AmbientAuth `json:"ambient,omitempty"`

	// RoleARN, when set, is assumed with STS AssumeRole on top of the base
	// credential, e.g. acs:ram::123456789012:role/cert-issuer.
	// +kubebuilder:validation:MaxLength=512
	// +kubebuilder:validation:Pattern=`^(acs:ram::[^:\s]+:role/\S+)?$`
	// +optional
	RoleARN string `json:"roleARN,omitempty"`

	// STSEndpoint overrides the STS URL used for AssumeRole.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="size(self) == 0 || (isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != '')",message="stsEndpoint must be an http or https URL with a host"
	// +optional
	STSEndpoint string `json:"stsEndpoint,omitempty"`
}

// AccessKeySecretRef names a Secret and the keys in it.
type AccessKeySecretRef struct {
	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`

	// AccessKeyIDKey is the Secret key holding the AccessKey ID.
	// +kubebuilder:default="access-key-id"
	// +kubebuilder:validation:MinLength=1
	// +optional
	AccessKeyIDKey string `json:"accessKeyIDKey,omitempty"`

	// AccessKeySecretKey is the Secret key holding the AccessKey secret.
	// +kubebuilder:default="access-key-secret"
	// +kubebuilder:validation:MinLength=1
	// +optional
	AccessKeySecretKey string `json:"accessKeySecretKey,omitempty"`

	// SecurityTokenKey, when set, is the Secret key holding an STS security
	// token that goes with the AccessKey pair.
	// +optional
	SecurityTokenKey string `json:"securityTokenKey,omitempty"`
}

// AmbientAuth selects the default credential chain; it has no fields.
type AmbientAuth struct{}

// Contact is who the CA contacts about an order. CAS requires username,
// email and phone for every order; DVOrder also requires province and city.
type Contact struct {
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	Username string `json:"username"`

	// +kubebuilder:validation:Format=email
	// +kubebuilder:validation:MaxLength=254
	// +kubebuilder:validation:XValidation:rule="self.matches('^[^@ ]+@[^@ ]+[.][^@ ]+$')",message="email must be an email address"
	Email string `json:"email"`

	// +kubebuilder:validation:Pattern=`^\+?[0-9][0-9 -]{4,19}$`
	Phone string `json:"phone"`

	// +kubebuilder:validation:MaxLength=64
	// +optional
	Province string `json:"province,omitempty"`

	// +kubebuilder:validation:MaxLength=64
	// +optional
	City string `json:"city,omitempty"`

	// +kubebuilder:validation:MaxLength=128
	// +optional
	CompanyName string `json:"companyName,omitempty"`
}

// Validation configures domain-ownership validation.
type Validation struct {
	// Method is DNS (a TXT/CNAME record) or FILE (a file served over HTTP).
	// +kubebuilder:default=DNS
	// +optional
	Method ValidationMethod `json:"method,omitempty"`

	// DNS configures DNS validation.
	// +optional
	DNS *DNSValidation `json:"dns,omitempty"`
}

// DNSValidation configures who creates DNS validation records.
//
// +kubebuilder:validation:XValidation:rule="!has(self.alidns) || (has(self.provider) && self.provider == 'alidns')",message="dns.alidns is only used with provider alidns"
type DNSValidation struct {
	// Provider is "manual": the issuer tells a person, on the
	// CertificateRequest and in an Event, which record to create, and waits;
	// or "alidns": the issuer creates the record in Alibaba Cloud DNS, and
	// removes it once the order is issued, failed or cancelled.
	// +kubebuilder:default=manual
	// +optional
	Provider DNSProvider `json:"provider,omitempty"`

	// Alidns configures provider alidns.
	// +optional
	Alidns *AlidnsDNS `json:"alidns,omitempty"`
}

// AlidnsDNS configures DNS validation through Alibaba Cloud DNS (Alidns).
type AlidnsDNS struct {
	// Endpoint is the Alidns API URL (http or https, with a host).
	// +kubebuilder:default="https://alidns.aliyuncs.com"
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() in ['http', 'https'] && url(self).getHostname() != ''",message="endpoint must be an http or https URL with a host, e.g. https://alidns.aliyuncs.com"
	// +optional
	Endpoint string `json:"endpoint,omitempty"`

	// Auth, when set, is how the issuer authenticates to Alidns (same shapes
	// as spec.auth); by default it uses the issuer's own credentials.
	// +optional
	Auth *Auth `json:"auth,omitempty"`

	// Zone, when set, is the Alidns zone every validation record is created
	// in; by default the longest zone of the account that is a suffix of
	// the record name.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.)*[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?\.?$`
	// +optional
	Zone string `json:"zone,omitempty"`

	// TTL of the validation records, in seconds.
	// +kubebuilder:default=600
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=86400
	// +optional
	TTL int32 `json:"ttl,omitempty"`

	// PropagationCheck, when true (the default), makes the issuer query the
	// name servers until they answer with the record (for a bounded time)
	// and report what they answer on the request.
	// +kubebuilder:default=true
	// +optional
	PropagationCheck *bool `json:"propagationCheck,omitempty"`

	// Nameservers to query for the propagation check ("host" or
	// "host:port"); by default the zone's authoritative name servers.
	// +kubebuilder:validation:MaxItems=10
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=261
	// +optional
	Nameservers []string `json:"nameservers,omitempty"`
}

// DVOrder configures the CAS 2018-07-13 order flow.
type DVOrder struct {
	// InstanceIDs are the purchased certificate instances to use; empty
	// means any usable instance of the account.
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +optional
	InstanceIDs []string `json:"instanceIDs,omitempty"`

	// AdoptServerKey lets the issuer write the key Alibaba Cloud generated
	// into cert-manager's next-private-key Secret of the Certificate.
	// +optional
	AdoptServerKey bool `json:"adoptServerKey,omitempty"`
}

// InstanceOrder configures the CAS V2.0 subscription-instance flow.
type InstanceOrder struct {
	// InstanceIDs are the subscription instances this issuer may use; empty
	// means any usable DV instance of the account.
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=128
	// +optional
	InstanceIDs []string `json:"instanceIDs,omitempty"`

	// ContactIDs are the CAS contacts named on every application; empty
	// means the contact of spec.contact, found by e-mail (and created when
	// absent).
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:Minimum=1
	// +optional
	ContactIDs []int64 `json:"contactIDs,omitempty"`

	// AutoReissue lets Alibaba Cloud renew certificates by itself (managed
	// renewal). Off by default: cert-manager owns renewal, and an automatic
	// renewal would issue certificates the cluster never asked for.
	// +optional
	AutoReissue bool `json:"autoReissue,omitempty"`
}

// IssuerStatus is the observed state of an issuer.
type IssuerStatus struct {
	// Conditions: Ready is True once an authenticated API call succeeded for
	// the current generation.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// LastCheckTime is when the issuer last called Alibaba Cloud to check
	// its health, successful or not.
	// +optional
	LastCheckTime *metav1.Time `json:"lastCheckTime,omitempty"`

	// PackageState is the quota of the configured product (orderAPI CSR).
	// +optional
	PackageState *PackageState `json:"packageState,omitempty"`

	// UsableInstances is the number of purchased, unused certificate
	// instances (orderAPI DVOrder), or of subscription instances that can
	// take an application now (orderAPI Instance).
	// +optional
	UsableInstances *int32 `json:"usableInstances,omitempty"`

	// InFlightInstances is the number of subscription instances with an
	// application in flight (orderAPI Instance).
	// +optional
	InFlightInstances *int32 `json:"inFlightInstances,omitempty"`

	// Handovers are open orders of CertificateRequests that were deleted
	// before they finished, kept for the request cert-manager creates again
	// for the same Certificate, revision and key (it takes the order over
	// instead of ordering again). An order no request takes within the
	// handover wait is cancelled. Written by the controller only.
	// +listType=map
	// +listMapKey=uid
	// +optional
	Handovers []OrderHandover `json:"handovers,omitempty"`
}

// OrderHandover is the open order of a deleted CertificateRequest, waiting
// for its successor.
type OrderHandover struct {
	// UID is the deleted request's UID, Request its namespace/name.
	UID     string `json:"uid"`
	Request string `json:"request"`
	// Namespace, Owner (the Certificate's UID), Revision and CSRDigest
	// (SHA-256 of the CSR's public key and names) are what the successor
	// must match.
	Namespace string `json:"namespace"`
	Owner     string `json:"owner"`
	Revision  string `json:"revision"`
	CSRDigest string `json:"csrDigest"`
	// State is the order state (JSON), MAC its authentication.
	State string `json:"state"`
	MAC   string `json:"mac"`
	// Since is when the request was deleted.
	Since metav1.Time `json:"since"`
}

// PackageState is a CAS certificate package's quota.
type PackageState struct {
	// Total certificates the package allows.
	Total int32 `json:"total"`
	// Used certificates (orders placed).
	Used int32 `json:"used"`
	// Issued certificates.
	Issued int32 `json:"issued"`
	// Remaining is total minus used: orders that can still be placed.
	Remaining int32 `json:"remaining"`
}
