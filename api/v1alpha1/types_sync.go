package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AliyunCASCertificateSync keeps one kubernetes.io/tls Secret of its
// namespace uploaded to Alibaba Cloud SSL Certificates Service, so that
// load balancers, CDN and WAF, which take certificates from CAS by id, get
// every renewal. It works whatever issued the Secret.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=cassync;cassyncs,categories=cert-manager
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.spec.secretName`
// +kubebuilder:printcolumn:name="CertId",type=string,JSONPath=`.status.certId`
// +kubebuilder:printcolumn:name="NotAfter",type=date,JSONPath=`.status.notAfter`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AliyunCASCertificateSync struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   CertificateSyncSpec   `json:"spec"`
	Status CertificateSyncStatus `json:"status,omitempty"`
}

// AliyunCASCertificateSyncList is a list of AliyunCASCertificateSync.
//
// +kubebuilder:object:root=true
type AliyunCASCertificateSyncList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AliyunCASCertificateSync `json:"items"`
}

// UploadAPI selects the CAS API that uploads certificates.
// +kubebuilder:validation:Enum="2020-04-07";"2018-07-13"
type UploadAPI string

// DeletionPolicy says what happens to the uploads when the sync is deleted.
// +kubebuilder:validation:Enum=Delete;Retain
type DeletionPolicy string

// CertificateSyncSpec says which Secret to keep uploaded, with whose
// credentials, and what to do with replaced uploads.
type CertificateSyncSpec struct {
	// SecretName is the kubernetes.io/tls Secret, in the sync's namespace,
	// whose tls.crt (leaf and intermediates) and tls.key are uploaded.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	SecretName string `json:"secretName"`

	// IssuerRef names the AliyunCASIssuer (in this namespace) or
	// AliyunCASClusterIssuer whose endpoint and credentials are used. The
	// issuer need not be Ready: only its credentials matter.
	IssuerRef SyncIssuerRef `json:"issuerRef"`

	// API is 2020-04-07 (UploadUserCertificate) or 2018-07-13
	// (CreateUserCertificate).
	// +kubebuilder:default="2020-04-07"
	// +optional
	API UploadAPI `json:"api,omitempty"`

	// NamePrefix starts the name of every upload in CAS; the name is the
	// prefix, "-" and a short fingerprint of the certificate, unique and at
	// most 63 characters. Default: <namespace>-<secretName>, shortened to
	// fit.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	NamePrefix string `json:"namePrefix,omitempty"`

	// RetainPrevious is how long a replaced upload stays in CAS before it
	// is deleted, so that listeners can switch to the new one; 0s deletes
	// it at once.
	// +kubebuilder:default="24h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('0s')",message="retainPrevious must be a duration of at least 0s"
	// +optional
	RetainPrevious *metav1.Duration `json:"retainPrevious,omitempty"`

	// DeletionPolicy is Delete (the uploads are deleted from CAS when the
	// sync is deleted) or Retain (they stay).
	// +kubebuilder:default=Delete
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`

	// Tags are sent with each upload where the API takes tags
	// (UploadUserCertificate).
	// +kubebuilder:validation:MaxProperties=20
	// +optional
	Tags map[string]string `json:"tags,omitempty"`

	// Targets are Kubernetes objects that get the current upload's
	// certIdentifier, so that a renewal reaches the load balancer without a
	// person.
	// +optional
	Targets *SyncTargets `json:"targets,omitempty"`
}

// SyncIssuerRef names an issuer of this project.
type SyncIssuerRef struct {
	// Kind is AliyunCASIssuer (same namespace) or AliyunCASClusterIssuer.
	// +kubebuilder:default=AliyunCASIssuer
	// +kubebuilder:validation:Enum=AliyunCASIssuer;AliyunCASClusterIssuer
	// +optional
	Kind string `json:"kind,omitempty"`
	// Name of the issuer.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name"`
}

// SyncTargets are the objects that follow the current upload.
type SyncTargets struct {
	// Services are names of Services in the sync's namespace whose
	// service.beta.kubernetes.io/alibaba-cloud-loadbalancer-cert-id
	// annotation is set to status.certIdentifier (patched only when it
	// differs). The controller needs get and patch on Services (an opt-in
	// of the Helm chart).
	// +kubebuilder:validation:MaxItems=50
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +listType=set
	// +optional
	Services []string `json:"services,omitempty"`
}

// CertificateSyncStatus is what is uploaded now, and what waits to be
// deleted.
type CertificateSyncStatus struct {
	// Conditions: Ready is True when the Secret's current certificate is in
	// CAS (and every target points at it).
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// ObservedGeneration is the generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// CertID is the CAS certificate id of the current upload.
	// +optional
	CertID string `json:"certId,omitempty"`

	// CertIdentifier is "<certId>-<region>" (e.g. 12345-cn-hangzhou), the
	// form load balancers, CDN and WAF take.
	// +optional
	CertIdentifier string `json:"certIdentifier,omitempty"`

	// CertName is the name of the current upload in CAS.
	// +optional
	CertName string `json:"certName,omitempty"`

	// API is the CAS API the current upload was made with.
	// +optional
	API UploadAPI `json:"api,omitempty"`

	// Fingerprint is the SHA-256 of the uploaded leaf (DER), lower-case hex.
	// +optional
	Fingerprint string `json:"fingerprint,omitempty"`

	// NotAfter is when the uploaded leaf expires.
	// +optional
	NotAfter *metav1.Time `json:"notAfter,omitempty"`

	// UploadedAt is when the current upload was made (or found).
	// +optional
	UploadedAt *metav1.Time `json:"uploadedAt,omitempty"`

	// Previous are replaced uploads, deleted from CAS after deleteAfter.
	// +listType=map
	// +listMapKey=certId
	// +optional
	Previous []PreviousUpload `json:"previous,omitempty"`
}

// PreviousUpload is a replaced upload waiting to be deleted.
type PreviousUpload struct {
	// CertID is its CAS certificate id.
	CertID string `json:"certId"`
	// API is the CAS API it was made with.
	// +optional
	API UploadAPI `json:"api,omitempty"`
	// DeleteAfter is when it is deleted.
	DeleteAfter metav1.Time `json:"deleteAfter"`
}
