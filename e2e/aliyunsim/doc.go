// Package aliyunsim is a strict local stand-in for the Alibaba Cloud APIs aliyun-cas-issuer
// speaks: CAS 2018-07-13 and 2020-04-07 (SSL Certificates Service), Alidns 2015-01-09 and STS
// 2015-04-01. It is the only Alibaba Cloud the project's tests talk to, so it behaves like the
// real service wherever the behaviour is known, and is configurable where it is not.
//
// One HTTP endpoint ("/") answers every product, routed by Version and Action (for signature
// v3 requests, the x-acs-version and x-acs-action headers). GET and POST are accepted, query
// and form parameters are merged, answers are JSON or XML (Format=XML) and always carry a
// RequestId. Calls are authenticated as Alibaba's gateway does: signature v1 (HMAC-SHA1) or
// v3 (ACS3-HMAC-SHA256), ±15 minutes of clock skew, nonces remembered for 15 minutes,
// STS credentials checked against their SecurityToken.
//
// Orders run real state machines, lazily advanced by the clock whenever they are looked at:
// quota is kept per product, domain ownership is validated against the simulator's own Alidns
// zones (or files registered through /_sim/files) in "dns" mode, and certificates are signed
// by a real root → intermediate chain. Faults (5xx, half of them after the action took
// effect; hangs), throttling and latency can be injected. The /_sim/ endpoints (see simapi.go)
// need no signature and give tests the state and a hand on the run-time settings.
//
// Items the reference marks (unverified) are marked so in the code where they matter.
//
// # Error codes
//
// The gateway codes are Alibaba's own: MissingParameter, InvalidParameter, InvalidVersion,
// InvalidAction.NotFound (404), InvalidAccessKeyId.NotFound (404), SignatureDoesNotMatch,
// IncompleteSignature, SignatureNonceUsed, InvalidTimeStamp.Expired, InvalidTimeStamp.Format,
// InvalidSecurityToken.Expired, InvalidSecurityToken.Malformed,
// InvalidSecurityToken.MismatchWithAccessKey, Throttling.User (400), InternalError (500),
// ServiceUnavailable (503); Alidns's DomainRecordDuplicate, DomainRecordConflict,
// DomainRecordNotBelongToUser, IncorrectDomainUser, InvalidDomainName.NoExist,
// QuotaExceeded.Record; STS's EntityNotExist.Role (404), AuthenticationFail.OIDCToken.Invalid
// (also for an empty token) and .Expired (401), Missing{ParameterName} such as MissingRoleArn (400).
//
// CAS's own codes, from the CAS 2020-04-07 error table (DeleteCertificateRequest and
// CreateCertificateForPackageRequest references):
//
//	NotRemainCount (404)            the package's quota is used up
//	NotFoundPackage (404)           the account has no package for the product (or the code
//	                                is not in the catalogue)
//	NotFoundOrder (404)             no such OrderId
//	OrderStateError (403)           the order's state does not allow the operation (cancel
//	                                outside domain_verify/process); for CAS 2018-07-13 also an
//	                                instance that has an order already, or none yet (unverified:
//	                                tell instance state from DescribeOrderInstanceList's Status)
//	DeleteFail (403)                delete outside verify_fail/payed
//
// A refused CAS 2018-07-13 (Config.LegacyAPI) answers InvalidVersion or InvalidApi.
//
// The rest are the simulator's own (all HTTP 400 unless noted); clients should key on
// classes, not on these exact strings:
//
//	InvalidParameter.Csr            the CSR is not PEM, does not parse, has a bad signature,
//	                                IP/e-mail/URI SANs, or names no domain
//	InvalidParameter.CommonName     StrictCN is on and the CSR has no Common Name
//	InvalidParameter.KeyType        the key is not RSA 2048–8192 or ECDSA P-256/P-384
//	InvalidParameter.Domain         a name is not a valid DNS name, or a domain list mixes
//	                                wildcard and plain names
//	InvalidParameter.DomainCount    more names than the product (or package) allows
//	InvalidParameter.Wildcard       a wildcard name for a product that has none
//	InvalidParameter.ValidateType   not DNS or FILE, or FILE for a wildcard name
//	InvalidParameter.DomainVerifyType  the same, for CreateDVOrderAudit
//	InvalidParameter.Email, .Phone, .Mobile  malformed contact details
//	InvalidInstanceId.NotFound (404)  no such DV instance
//	InvalidCertId.NotFound (404)    no such user certificate
//	InvalidParameter.NameDuplicate  a user certificate of that name exists
//	InvalidParameter.Cert, .Key, .KeyMismatch  an uploaded certificate or key does not
//	                                parse, or they do not belong together
//	InvalidParameter.Status, .OrderType  unknown ListUserCertificateOrder filter
//	InvalidParameter.Sm2            SM2 certificate upload (not simulated)
//	InvalidParameter.Type, .RR, .Value  malformed Alidns record input
//	InvalidDomainName.Format        a malformed Alidns domain name
//	InvalidParameter.RoleArn, .OIDCProviderArn, .RoleSessionName  malformed STS input
//	InvalidParameter.Duplicate      a parameter given twice with different values
//	InvalidParameter.Encoding       the query or form is not valid URL encoding
//	InvalidSignatureMethod, InvalidSignatureVersion, InvalidSignatureType  v1 signature
//	                                parameters other than HMAC-SHA1 / 1.0 / empty
//	UnsupportedHTTPMethod (405)     neither GET nor POST
//	RequestTooLarge (413)           a body over 1 MiB
package aliyunsim
