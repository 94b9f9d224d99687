package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// AliyunCASIssuer orders certificates from Alibaba Cloud SSL Certificates
// Service for CertificateRequests in its own namespace.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Namespaced,shortName=casissuer;casissuers,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Quota Left",type=integer,JSONPath=`.status.packageState.remaining`
// +kubebuilder:printcolumn:name="Usable",type=integer,JSONPath=`.status.usableInstances`
// +kubebuilder:printcolumn:name="In Flight",type=integer,JSONPath=`.status.inFlightInstances`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AliyunCASIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IssuerSpec   `json:"spec"`
	Status IssuerStatus `json:"status,omitempty"`
}

// AliyunCASIssuerList is a list of AliyunCASIssuer.
//
// +kubebuilder:object:root=true
type AliyunCASIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AliyunCASIssuer `json:"items"`
}

// AliyunCASClusterIssuer orders certificates from Alibaba Cloud SSL
// Certificates Service for CertificateRequests in any namespace. Its Secret
// lives in the cluster resource namespace of the issuer deployment.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=casclusterissuer;casclusterissuers,categories=cert-manager
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Quota Left",type=integer,JSONPath=`.status.packageState.remaining`
// +kubebuilder:printcolumn:name="Usable",type=integer,JSONPath=`.status.usableInstances`
// +kubebuilder:printcolumn:name="In Flight",type=integer,JSONPath=`.status.inFlightInstances`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type AliyunCASClusterIssuer struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	Spec   IssuerSpec   `json:"spec"`
	Status IssuerStatus `json:"status,omitempty"`
}

// AliyunCASClusterIssuerList is a list of AliyunCASClusterIssuer.
//
// +kubebuilder:object:root=true
type AliyunCASClusterIssuerList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []AliyunCASClusterIssuer `json:"items"`
}
