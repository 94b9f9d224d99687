package v1alpha1

// CertificateSyncKind is the kind name of AliyunCASCertificateSync.
const CertificateSyncKind = "AliyunCASCertificateSync"

// Upload APIs (spec.api of a sync).
const (
	// UploadAPI20200407 uploads with CAS 2020-04-07 UploadUserCertificate.
	UploadAPI20200407 UploadAPI = "2020-04-07"
	// UploadAPI20180713 uploads with CAS 2018-07-13 CreateUserCertificate.
	UploadAPI20180713 UploadAPI = "2018-07-13"
)

// Deletion policies (spec.deletionPolicy of a sync).
const (
	DeletionPolicyDelete DeletionPolicy = "Delete"
	DeletionPolicyRetain DeletionPolicy = "Retain"
)

// Defaults of a sync, mirrored by its +kubebuilder:default markers.
const (
	DefaultUploadAPI      = UploadAPI20200407
	DefaultDeletionPolicy = DeletionPolicyDelete
)

// AnnotationLoadBalancerCertID is the annotation of a Service of type
// LoadBalancer on ACK (cloud-controller-manager) that names the CAS
// certificate of its HTTPS listeners, as "<certId>-<region>".
const AnnotationLoadBalancerCertID = "service.beta.kubernetes.io/alibaba-cloud-loadbalancer-cert-id"

// FinalizerDeleteUploads keeps a sync until its uploads are deleted from
// CAS (deletionPolicy Delete) or released (Retain).
const FinalizerDeleteUploads = AnnotationPrefix + "delete-uploads"
