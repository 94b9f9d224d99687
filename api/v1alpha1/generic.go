package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// GenericIssuer is either kind of issuer: code that does not care about the
// scope reads the spec and status through it.
//
// +kubebuilder:object:generate=false
type GenericIssuer interface {
	runtime.Object
	metav1.Object

	// GetSpec returns the issuer's spec (never nil).
	GetSpec() *IssuerSpec
	// GetStatus returns the issuer's status (never nil); changes to it
	// change the object.
	GetStatus() *IssuerStatus
	// IsClusterScoped is true for AliyunCASClusterIssuer.
	IsClusterScoped() bool
	// Kind is the kind name, set even when TypeMeta is empty.
	KindName() string
}

var (
	_ GenericIssuer = &AliyunCASIssuer{}
	_ GenericIssuer = &AliyunCASClusterIssuer{}
)

// GetSpec returns the issuer's spec.
func (i *AliyunCASIssuer) GetSpec() *IssuerSpec { return &i.Spec }

// GetStatus returns the issuer's status.
func (i *AliyunCASIssuer) GetStatus() *IssuerStatus { return &i.Status }

// IsClusterScoped is false for AliyunCASIssuer.
func (i *AliyunCASIssuer) IsClusterScoped() bool { return false }

// Kind returns "AliyunCASIssuer".
func (i *AliyunCASIssuer) KindName() string { return IssuerKind }

// GetSpec returns the issuer's spec.
func (i *AliyunCASClusterIssuer) GetSpec() *IssuerSpec { return &i.Spec }

// GetStatus returns the issuer's status.
func (i *AliyunCASClusterIssuer) GetStatus() *IssuerStatus { return &i.Status }

// IsClusterScoped is true for AliyunCASClusterIssuer.
func (i *AliyunCASClusterIssuer) IsClusterScoped() bool { return true }

// Kind returns "AliyunCASClusterIssuer".
func (i *AliyunCASClusterIssuer) KindName() string { return ClusterIssuerKind }

// NewIssuer returns an empty issuer of the given kind ("" means
// AliyunCASIssuer, as in cert-manager issuer references), or nil for a kind
// this API does not have.
func NewIssuer(kind string) GenericIssuer {
	switch kind {
	case "", IssuerKind:
		return &AliyunCASIssuer{}
	case ClusterIssuerKind:
		return &AliyunCASClusterIssuer{}
	}
	return nil
}

// ReadyCondition returns the issuer's Ready condition, or nil.
func ReadyCondition(i GenericIssuer) *metav1.Condition {
	for k := range i.GetStatus().Conditions {
		if i.GetStatus().Conditions[k].Type == ConditionReady {
			return &i.GetStatus().Conditions[k]
		}
	}
	return nil
}

// IsReady reports whether the issuer's Ready condition is True for its
// current generation.
func IsReady(i GenericIssuer) bool {
	c := ReadyCondition(i)
	return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == i.GetGeneration()
}
