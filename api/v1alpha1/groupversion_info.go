// Package v1alpha1 holds the aliyun-cas-issuer.io/v1alpha1 API: the
// AliyunCASIssuer and AliyunCASClusterIssuer kinds that tell the issuer how
// to order certificates from Alibaba Cloud SSL Certificates Service (CAS).
//
// +kubebuilder:object:generate=true
// +groupName=aliyun-cas-issuer.io
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// GroupName is the API group of this project's kinds; cert-manager issuer
// references use it as issuerRef.group.
const GroupName = "aliyun-cas-issuer.io"

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: GroupName, Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this API with a scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the kinds of this API to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion,
		&AliyunCASIssuer{}, &AliyunCASIssuerList{},
		&AliyunCASClusterIssuer{}, &AliyunCASClusterIssuerList{},
		&AliyunCASCertificateSync{}, &AliyunCASCertificateSyncList{},
	)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
