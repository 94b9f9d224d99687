package controllers_test

import (
	"encoding/pem"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// TestBadInput: every bad request or issuer ends with a specific reason and
// message; requests rejected before any order leave no order behind.
func TestBadInput(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{Packages: map[string]aliyunsim.Package{
		"digicert-free-1-free":  {Quota: 20},
		"geotrust-dv-1-starter": {Quota: 0},
	}})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	createSecret(t, ns, "wrong-secret", credentials(testKeyID, "wrong-secret-value-123"))
	createSecret(t, ns, "unknown-id", credentials("test-unknown-key-id", testKeySecret))
	createSecret(t, ns, "no-secret-key", map[string]string{"access-key-id": testKeyID})

	good := createIssuer(t, ns, "good", issuerSpec(url, "digicert-free-1-free"))
	noQuota := createIssuer(t, ns, "no-quota", issuerSpec(url, "geotrust-dv-1-starter"))
	withSecret := func(name string) v1alpha1.IssuerSpec {
		s := issuerSpec(url, "digicert-free-1-free")
		s.Auth.AccessKeySecretRef.Name = name
		return s
	}
	missingSecret := createIssuer(t, ns, "missing-secret", withSecret("does-not-exist"))
	missingKey := createIssuer(t, ns, "missing-key", withSecret("no-secret-key"))
	wrongSecret := createIssuer(t, ns, "wrong-secret", withSecret("wrong-secret"))
	unknownID := createIssuer(t, ns, "unknown-id", withSecret("unknown-id"))
	unknownHost := createIssuer(t, ns, "unknown-host", issuerSpec("http://cas.no-such-host.invalid", "digicert-free-1-free"))
	refused := createIssuer(t, ns, "refused", issuerSpec(closedPortURL(t), "digicert-free-1-free"))
	unknownProduct := createIssuer(t, ns, "unknown-product", issuerSpec(url, "no-such-product"))
	noPackage := createIssuer(t, ns, "no-package", issuerSpec(url, "globalsign-dv-w-advanced"))
	notExisting := cmmeta.IssuerReference{Group: v1alpha1.GroupName, Kind: v1alpha1.IssuerKind, Name: "not-existing"}
	waitIssuer(t, ns, good, metav1.ConditionTrue, "")
	waitIssuer(t, ns, noQuota, metav1.ConditionTrue, "")

	csr := func(s csrSpec) []byte {
		if s.key == nil {
			s.key = keys.p256
		}
		return makeCSR(t, s)
	}
	valid := csr(csrSpec{cn: "ok.example.com", dns: []string{"ok.example.com"}})
	badSig := func() []byte {
		b, _ := pem.Decode(valid)
		der := append([]byte(nil), b.Bytes...)
		der[len(der)-5] ^= 0xff // inside the signature
		return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der})
	}()

	type want struct {
		reason  string // Ready reason of the request
		message string // in the Ready message
		// issuerReason, when set, is the issuer's Ready=False reason.
		issuerReason string
		// local: rejected before any call that could create an order.
		local bool
	}
	cases := []struct {
		name string
		ref  cmmeta.IssuerReference
		csr  []byte
		opts []crOption
		want want
	}{
		{"not-pem", good, []byte("hello"), nil, want{"Failed", "BadCSR: the CSR is not PEM-encoded", "", true}},
		{"garbage-der", good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: []byte{1, 2, 3}}), nil, want{"Failed", "BadCSR: the CSR cannot be parsed", "", true}},
		{"wrong-pem-type", good, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1, 2, 3}}), nil, want{"Failed", "BadCSR", "", true}},
		{"bad-signature", good, badSig, nil, want{"Failed", "BadCSR: the CSR's signature is invalid", "", true}},
		{"rsa-1024", good, csr(csrSpec{key: keys.rsa1024, cn: "a.example.com"}), nil, want{"Failed", "UnsupportedKey: the CSR's key is RSA 1024 bits", "", true}},
		{"ecdsa-p521", good, csr(csrSpec{key: keys.p521, cn: "a.example.com"}), nil, want{"Failed", "UnsupportedKey", "", true}},
		{"ed25519", good, csr(csrSpec{key: keys.ed, cn: "a.example.com"}), nil, want{"Failed", "UnsupportedKey: the CSR's key is Ed25519", "", true}},
		{"ip-san", good, csr(csrSpec{cn: "a.example.com", ips: []net.IP{net.ParseIP("10.0.0.1")}}), nil, want{"Failed", "UnsupportedSAN", "", true}},
		{"email-san", good, csr(csrSpec{cn: "a.example.com", emails: []string{"a@example.com"}}), nil, want{"Failed", "UnsupportedSAN", "", true}},
		{"is-ca", good, valid, []crOption{withIsCA()}, want{"Failed", "CANotSupported", "", true}},
		{"csr-ca", good, csr(csrSpec{cn: "a.example.com", ca: true}), nil, want{"Failed", "CANotSupported", "", true}},
		{"client-usage", good, valid, []crOption{withUsages(cmapi.UsageClientAuth, cmapi.UsageCertSign)}, want{"Failed", "UnsupportedUsage", "", true}},
		{"no-names", good, csr(csrSpec{}), nil, want{"Failed", "NoNames", "", true}},
		{"invalid-name", good, csr(csrSpec{cn: "bad_name..example.com"}), nil, want{"Failed", "InvalidName", "", true}},
		{"wildcard-free", good, csr(csrSpec{cn: "*.example.com", dns: []string{"*.example.com"}}), nil, want{"Failed", "WildcardNotAllowed", "", true}},
		{"quota-exhausted", noQuota, valid, nil, want{"Failed", "QuotaExhausted", "", false}},
		{"missing-secret", missingSecret, valid, nil, want{"Pending", "issuer missing-secret not ready: secret " + ns + "/does-not-exist not found", v1alpha1.ReasonSecretNotFound, true}},
		{"missing-key", missingKey, valid, nil, want{"Pending", `issuer missing-key not ready: secret ` + ns + `/no-secret-key has no key "access-key-secret"`, v1alpha1.ReasonSecretKeyMissing, true}},
		{"wrong-secret", wrongSecret, valid, nil, want{"Pending", "issuer wrong-secret not ready", "InvalidCredentials", true}},
		{"unknown-key-id", unknownID, valid, nil, want{"Pending", "issuer unknown-id not ready", "InvalidCredentials", true}},
		{"unknown-host", unknownHost, valid, nil, want{"Pending", "issuer unknown-host not ready", "", true}},
		{"connection-refused", refused, valid, nil, want{"Pending", "issuer refused not ready", "EndpointUnreachable", true}},
		{"unknown-product", unknownProduct, valid, nil, want{"Pending", "issuer unknown-product not ready", "", true}},
		{"no-package", noPackage, valid, nil, want{"Pending", "issuer no-package not ready", "NoPackage", true}}, // CAS: NotFoundPackage (404),
		{"issuer-not-found", notExisting, valid, nil, want{"Pending", "issuer AliyunCASIssuer not-existing not found", "", true}},
	}
	for _, tc := range cases {
		createCR(t, ns, tc.name, tc.ref, tc.csr, tc.opts...)
		approve(t, keyOf(ns, tc.name))
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cr := waitCR(t, keyOf(ns, tc.name), tc.want.reason, tc.want.message, 30*time.Second)
			c := readyCond(cr)
			if tc.want.reason == cmapi.CertificateRequestReasonFailed {
				if cr.Status.FailureTime == nil {
					t.Errorf("failed without failureTime")
				}
				if len(cr.Finalizers) != 0 {
					t.Errorf("failed request keeps finalizers %v", cr.Finalizers)
				}
			}
			if tc.want.issuerReason != "" {
				iss := waitIssuer(t, ns, tc.ref, metav1.ConditionFalse, tc.want.issuerReason)
				t.Logf("issuer: %s", v1alpha1.ReadyCondition(iss).Message)
			}
			if tc.want.local && cr.Annotations[v1alpha1.AnnotationCreating] != "" {
				t.Errorf("a locally rejected request recorded an order intent: %v", cr.Annotations)
			}
			t.Logf("%s: %s", c.Reason, c.Message)
		})
	}
	// Issuers that are not ready say why, without secrets.
	for _, ref := range []cmmeta.IssuerReference{unknownHost, unknownProduct} {
		iss := waitIssuer(t, ns, ref, metav1.ConditionFalse, "")
		if c := v1alpha1.ReadyCondition(iss); c.Message == "" {
			t.Errorf("issuer %s not ready without a message", ref.Name)
		}
	}
	// Nothing was ordered: no create for local rejections and issuer
	// problems, and the remote rejection (quota) placed no order.
	st := sim.State()
	if len(st.Orders) != 0 {
		t.Errorf("orders were placed: %+v", st.Orders)
	}
	if n := st.Calls["CreateCertificateWithCsrRequest"]; n != 1 {
		t.Errorf("%d create calls, want 1 (the quota-exhausted one)", n)
	}
	// The matrix is worth its name.
	if len(cases) < 15 {
		t.Errorf("only %d cases", len(cases))
	}
	var b strings.Builder
	for _, e := range listEvents(t, ns) {
		fmt.Fprintf(&b, "%s %s %s: %s\n", e.Type, e.Regarding.Name, e.Reason, e.Note)
	}
	t.Logf("events:\n%s", b.String())
}

// closedPortURL is an http URL on which nothing listens.
func closedPortURL(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	return "http://" + addr
}
