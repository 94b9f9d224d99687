package v1alpha1

// Signer names of Kubernetes CertificateSigningRequests
// (certificates.k8s.io/v1 spec.signerName) this issuer signs, spelled as
// cert-manager spells them for its own issuers: "<resource>.<group>/<name>",
// with "<namespace>.<name>" for namespaced issuers.
const (
	// ClusterIssuerSignerDomain is followed by "/<name>" of an
	// AliyunCASClusterIssuer.
	ClusterIssuerSignerDomain = "aliyuncasclusterissuers." + GroupName
	// IssuerSignerDomain is followed by "/<namespace>.<name>" of an
	// AliyunCASIssuer.
	IssuerSignerDomain = "aliyuncasissuers." + GroupName

	// SignersResource is the resource of RBAC rules about signers: "sign"
	// and "approve" (group certificates.k8s.io, resource names the signer
	// names), and "reference" (this group; namespaced, resource names the
	// issuer names), which a CertificateSigningRequest's requester needs
	// to use an AliyunCASIssuer.
	SignersResource = "signers"
	// VerbReference is the verb of the reference check.
	VerbReference = "reference"
)
