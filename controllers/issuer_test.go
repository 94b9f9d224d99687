package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/controllers"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// TestIssuerFollowsSecret: an issuer with wrong credentials is not Ready
// and its requests wait; fixing the Secret re-checks the issuer at once
// (no periodic check needed) and the waiting request is issued.
func TestIssuerFollowsSecret(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, aliyunsim.Config{})
	startManager(t, testOptions()) // health-check interval 10m: only watches can help
	ns := newNamespace(t)
	sec := createSecret(t, ns, secretName, credentials(testKeyID, "wrong-secret-value-123"))
	ref := createIssuer(t, ns, "follows", issuerSpec(url, "digicert-free-1-free"))
	iss := waitIssuer(t, ns, ref, metav1.ConditionFalse, "InvalidCredentials")
	if msg := v1alpha1.ReadyCondition(iss).Message; strings.Contains(msg, "wrong-secret-value-123") {
		t.Fatalf("condition leaks the secret: %s", msg)
	}

	key := createCR(t, ns, "waits", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "waits.example.com"}))
	approve(t, key)
	waitCR(t, key, cmapi.CertificateRequestReasonPending, "issuer follows not ready", 20*time.Second)
	if n := orderCount(sim); n != 0 {
		t.Fatalf("%d orders while the issuer is not ready", n)
	}

	fixed := &corev1.Secret{}
	if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(sec), fixed); err != nil {
		t.Fatal(err)
	}
	fixed.Data = map[string][]byte{"access-key-id": []byte(testKeyID), "access-key-secret": []byte(testKeySecret + "\n")}
	if err := env.Client.Update(context.Background(), fixed); err != nil {
		t.Fatal(err)
	}
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	cr := waitIssued(t, key)
	verifyIssued(t, sim, cr, keys.p256, []string{"waits.example.com"})

	// A spec change is checked again (observedGeneration follows).
	iss = getIssuer(t, ns, ref)
	spec := iss.GetSpec()
	spec.ProductCode = "no-such-product"
	if err := env.Client.Update(context.Background(), iss); err != nil {
		t.Fatal(err)
	}
	iss = waitIssuer(t, ns, ref, metav1.ConditionFalse, "")
	t.Logf("after spec change: %s: %s", v1alpha1.ReadyCondition(iss).Reason, v1alpha1.ReadyCondition(iss).Message)
}

// TestIssuerValidation: bad specs are refused at admission by the CRD's
// schema and CEL rules, and a minimal spec gets the documented defaults.
func TestIssuerValidation(t *testing.T) {
	ns := newNamespace(t)
	base := func() v1alpha1.IssuerSpec {
		return v1alpha1.IssuerSpec{
			Auth:    v1alpha1.Auth{AccessKeySecretRef: &v1alpha1.AccessKeySecretRef{Name: "creds"}},
			Contact: v1alpha1.Contact{Username: "Ops", Email: "ops@example.com", Phone: "13800000000"},
		}
	}
	cases := []struct {
		name string
		mut  func(*v1alpha1.IssuerSpec)
		want string
	}{
		{"both-auth", func(s *v1alpha1.IssuerSpec) { s.Auth.Ambient = &v1alpha1.AmbientAuth{} }, "exactly one of accessKeySecretRef or ambient"},
		{"no-auth", func(s *v1alpha1.IssuerSpec) { s.Auth.AccessKeySecretRef = nil }, "exactly one of accessKeySecretRef or ambient"},
		{"ftp-endpoint", func(s *v1alpha1.IssuerSpec) { s.Endpoint = "ftp://cas.aliyuncs.com" }, "endpoint must be an http or https URL"},
		{"no-scheme-endpoint", func(s *v1alpha1.IssuerSpec) { s.Endpoint = "cas.aliyuncs.com" }, "endpoint must be an http or https URL"},
		{"hostless-endpoint", func(s *v1alpha1.IssuerSpec) { s.Endpoint = "http://" }, "endpoint must be an http or https URL"},
		{"bad-sts-endpoint", func(s *v1alpha1.IssuerSpec) { s.Auth.STSEndpoint = "sts" }, "stsEndpoint must be an http or https URL"},
		{"bad-order-api", func(s *v1alpha1.IssuerSpec) { s.OrderAPI = "Magic" }, "Unsupported value"},
		{"bad-method", func(s *v1alpha1.IssuerSpec) { s.Validation.Method = "HTTP" }, "Unsupported value"},
		{"bad-dns-provider", func(s *v1alpha1.IssuerSpec) {
			s.Validation.DNS = &v1alpha1.DNSValidation{Provider: "route53"}
		}, "Unsupported value"},
		{"bad-email", func(s *v1alpha1.IssuerSpec) { s.Contact.Email = "not-an-email" }, "email"},
		{"bad-phone", func(s *v1alpha1.IssuerSpec) { s.Contact.Phone = "call me" }, "phone"},
		{"no-username", func(s *v1alpha1.IssuerSpec) { s.Contact.Username = "" }, "username"},
		{"short-poll", func(s *v1alpha1.IssuerSpec) { s.PollInterval = &metav1.Duration{Duration: 100 * time.Millisecond} }, "pollInterval must be a duration of at least 1s"},
		{"bad-product", func(s *v1alpha1.IssuerSpec) { s.ProductCode = "bad code!" }, "productCode"},
		{"bad-role", func(s *v1alpha1.IssuerSpec) { s.Auth.RoleARN = "arn:aws:iam::1:role/x" }, "roleARN"},
		{"dv-without-city", func(s *v1alpha1.IssuerSpec) { s.OrderAPI = v1alpha1.OrderAPIDVOrder }, "orderAPI DVOrder requires contact.province and contact.city"},
		{"empty-secret-name", func(s *v1alpha1.IssuerSpec) { s.Auth.AccessKeySecretRef.Name = "" }, "name"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			spec := base()
			tc.mut(&spec)
			for _, obj := range []client.Object{
				&v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: tc.name}, Spec: spec},
				&v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: ns + "-" + tc.name}, Spec: spec},
			} {
				err := env.Client.Create(context.Background(), obj)
				if err == nil {
					_ = env.Client.Delete(context.Background(), obj)
					t.Fatalf("%T accepted", obj)
				}
				if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), tc.want) {
					t.Fatalf("%T: got %v, want an Invalid error mentioning %q", obj, err, tc.want)
				}
			}
		})
	}

	t.Run("defaults", func(t *testing.T) {
		iss := &v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "defaults"}, Spec: base()}
		if err := env.Client.Create(context.Background(), iss); err != nil {
			t.Fatal(err)
		}
		got := &v1alpha1.AliyunCASIssuer{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(iss), got); err != nil {
			t.Fatal(err)
		}
		s := got.Spec
		ref := s.Auth.AccessKeySecretRef
		// The API's default markers say what the signer's defaults are.
		d := signer.Config{}.WithDefaults()
		if s.Endpoint != d.Endpoint || string(s.OrderAPI) != d.OrderAPI || s.ProductCode != d.ProductCode ||
			string(s.Validation.Method) != d.ValidationMethod || s.PollInterval == nil || s.PollInterval.Duration != d.PollInterval ||
			ref.AccessKeyIDKey != v1alpha1.DefaultAccessKeyIDKey || ref.AccessKeySecretKey != v1alpha1.DefaultAccessKeyKey {
			t.Errorf("defaults not applied as signer.Config.WithDefaults has them: %+v %+v", s, ref)
		}
		dnsSpec := base()
		dnsSpec.Validation.DNS = &v1alpha1.DNSValidation{Provider: v1alpha1.DNSProviderAlidns, Alidns: &v1alpha1.AlidnsDNS{}}
		withDNS := &v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns-defaults"}, Spec: dnsSpec}
		if err := env.Client.Create(context.Background(), withDNS); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(withDNS), withDNS); err != nil {
			t.Fatal(err)
		}
		ad := withDNS.Spec.Validation.DNS.Alidns
		if ad.Endpoint != d.DNS.Endpoint || int(ad.TTL) != d.DNS.TTL || ad.PropagationCheck == nil || !*ad.PropagationCheck != d.DNS.SkipPropagationCheck {
			t.Errorf("Alidns defaults not applied as signer.Config.WithDefaults has them: %+v", ad)
		}
		manual := base()
		manual.Validation.DNS = &v1alpha1.DNSValidation{}
		withManual := &v1alpha1.AliyunCASIssuer{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "dns-manual"}, Spec: manual}
		if err := env.Client.Create(context.Background(), withManual); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(withManual), withManual); err != nil {
			t.Fatal(err)
		}
		if p := string(withManual.Spec.Validation.DNS.Provider); p != d.DNS.Provider {
			t.Errorf("DNS provider default %q, signer.Config.WithDefaults has %q", p, d.DNS.Provider)
		}
		// Ambient with a role and an STS endpoint on http is fine.
		amb := base()
		amb.Auth = v1alpha1.Auth{Ambient: &v1alpha1.AmbientAuth{}, RoleARN: "acs:ram::123456789012:role/cert-issuer", STSEndpoint: "http://127.0.0.1:1234"}
		amb.Endpoint = "http://127.0.0.1:8080"
		amb.OrderAPI = v1alpha1.OrderAPIDVOrder
		amb.Contact.Province, amb.Contact.City = "Zhejiang", "Hangzhou"
		amb.DVOrder = &v1alpha1.DVOrder{InstanceIDs: []string{"cas-cn-1"}}
		a := &v1alpha1.AliyunCASClusterIssuer{ObjectMeta: metav1.ObjectMeta{Name: ns + "-ambient"}, Spec: amb}
		if err := env.Client.Create(context.Background(), a); err != nil {
			t.Fatalf("a valid ambient DVOrder spec was refused: %v", err)
		}
		got2 := &v1alpha1.AliyunCASClusterIssuer{}
		if err := env.Client.Get(context.Background(), client.ObjectKeyFromObject(a), got2); err != nil {
			t.Fatal(err)
		}
		if got2.Spec.Auth.Ambient == nil {
			t.Errorf("ambient: {} was dropped")
		}
		_ = env.Client.Delete(context.Background(), a)
	})
}

// TestSecretOutsideCache: an issuer whose Secret lives in a namespace the
// controller may not read (outside its Secret cache) says so, and is not
// Ready; the cluster resource namespace is always readable.
func TestSecretOutsideCache(t *testing.T) {
	_, url := startSim(t, aliyunsim.Config{})
	ns := newNamespace(t)
	ensureNamespace(t, clusterNS)
	opts := testOptions()
	startManagerWithCache(t, opts, controllers.CacheOptions("some-other-namespace", opts.ClusterResourceNamespace))
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "outside", issuerSpec(url, "digicert-free-1-free"))
	iss := waitIssuer(t, ns, ref, metav1.ConditionFalse, "SecretUnavailable")
	if msg := v1alpha1.ReadyCondition(iss).Message; !strings.Contains(msg, "may the controller read Secrets in namespace "+ns) {
		t.Errorf("message does not name the namespace: %s", msg)
	}
	sec := createSecret(t, clusterNS, ns+"-creds", credentials(testKeyID, testKeySecret))
	spec := issuerSpec(url, "digicert-free-1-free")
	spec.Auth.AccessKeySecretRef.Name = sec.Name
	waitIssuer(t, "", createClusterIssuer(t, ns+"-outside", spec), metav1.ConditionTrue, v1alpha1.ReasonChecked)
}

func TestCacheOptions(t *testing.T) {
	secretNamespaces := func(o cache.Options) map[string]cache.Config {
		for obj, bo := range o.ByObject {
			if _, ok := obj.(*corev1.Secret); ok {
				return bo.Namespaces
			}
		}
		t.Fatalf("no Secret entry in %v", o.ByObject)
		return nil
	}
	for _, all := range []string{"*", "", "a,*"} {
		if nss := secretNamespaces(controllers.CacheOptions(all, "cert-manager")); nss != nil {
			t.Errorf("%q restricted the Secret cache to %v", all, nss)
		}
	}
	nss := secretNamespaces(controllers.CacheOptions(" a, b ,,", "cert-manager"))
	if len(nss) != 3 {
		t.Errorf("namespaces %v, want a, b and cert-manager", nss)
	}
	for _, ns := range []string{"a", "b", "cert-manager"} {
		if _, ok := nss[ns]; !ok {
			t.Errorf("namespace %s missing from %v", ns, nss)
		}
	}
}

// The caches keep of a CertificateRequest and of a Secret's metadata only
// what the controllers read from them.
func TestCacheTransforms(t *testing.T) {
	o := controllers.CacheOptions("", "cert-manager")
	transform := func(kind client.Object, in any) any {
		t.Helper()
		for obj, bo := range o.ByObject {
			if fmt.Sprintf("%T", obj) == fmt.Sprintf("%T", kind) {
				out, err := bo.Transform(in)
				if err != nil {
					t.Fatal(err)
				}
				return out
			}
		}
		t.Fatalf("no cache entry for %T", kind)
		return nil
	}
	managed := []metav1.ManagedFieldsEntry{{Manager: "cert-manager", Operation: metav1.ManagedFieldsOperationApply}}
	cr := &cmapi.CertificateRequest{
		ObjectMeta: metav1.ObjectMeta{Name: "r", Namespace: "n", UID: "u", ManagedFields: managed,
			Annotations: map[string]string{v1alpha1.AnnotationOrderID: "42"}, Finalizers: []string{v1alpha1.FinalizerCancelOrder}},
		Spec: cmapi.CertificateRequestSpec{Request: []byte("csr"), IssuerRef: cmmeta.IssuerReference{Name: "i", Group: v1alpha1.GroupName},
			Username: "system:serviceaccount:cert-manager:cert-manager", Groups: []string{"system:authenticated"}, Usages: []cmapi.KeyUsage{cmapi.UsageServerAuth}},
		Status: cmapi.CertificateRequestStatus{Certificate: []byte("chain"), CA: []byte("root"), Conditions: []cmapi.CertificateRequestCondition{{Type: cmapi.CertificateRequestConditionReady}}},
	}
	got := transform(&cmapi.CertificateRequest{}, cr.DeepCopy()).(*cmapi.CertificateRequest)
	if got.ManagedFields != nil || got.Spec.Request != nil || got.Spec.Username != "" || got.Spec.Groups != nil || got.Spec.Usages != nil ||
		got.Status.Certificate != nil || got.Status.CA != nil {
		t.Errorf("cached request keeps what nothing reads: %+v", got)
	}
	if got.Annotations[v1alpha1.AnnotationOrderID] != "42" || len(got.Finalizers) != 1 || got.Spec.IssuerRef != cr.Spec.IssuerRef || len(got.Status.Conditions) != 1 || got.UID != "u" {
		t.Errorf("cached request lost what the predicates and indexes read: %+v", got)
	}
	sec := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Name: "s", Namespace: "n", UID: "u", ResourceVersion: "7",
		ManagedFields: managed, Annotations: map[string]string{"cert-manager.io/common-name": "x"}, Labels: map[string]string{"a": "b"}}}
	gotSec := transform(&corev1.Secret{}, sec).(*metav1.PartialObjectMetadata)
	if gotSec.Name != "s" || gotSec.Namespace != "n" || gotSec.UID != "u" || gotSec.ResourceVersion != "7" {
		t.Errorf("cached Secret metadata lost its identity or version: %+v", gotSec.ObjectMeta)
	}
	if gotSec.ManagedFields != nil || gotSec.Annotations != nil || gotSec.Labels != nil {
		t.Errorf("cached Secret metadata keeps what nothing reads: %+v", gotSec.ObjectMeta)
	}
}

// TestAmbientCredentialsOnlyForClusterIssuers: the controller's own identity
// is not handed to namespaced issuers unless the controller allows it.
func TestAmbientCredentialsOnlyForClusterIssuers(t *testing.T) {
	_, url := startSim(t, aliyunsim.Config{})
	ambient := issuerSpec(url, "digicert-free-1-free")
	ambient.Auth = v1alpha1.Auth{Ambient: &v1alpha1.AmbientAuth{}}

	m := startManager(t, testOptions())
	ns := newNamespace(t)
	ref := createIssuer(t, ns, "ambient", ambient)
	iss := waitIssuer(t, ns, ref, metav1.ConditionFalse, controllers.ReasonAmbientNotAllowed)
	if msg := v1alpha1.ReadyCondition(iss).Message; !strings.Contains(msg, "--issuer-ambient-credentials") {
		t.Fatalf("message does not say how to allow it: %s", msg)
	}
	m.stop(t)

	// Allowed: the issuer goes on to use the ambient chain (which has no
	// credentials here), so it fails for another reason.
	opts := testOptions()
	opts.IssuerAmbientCredentials = true
	startManager(t, opts)
	eventually(t, 30*time.Second, func() (bool, string) {
		c := v1alpha1.ReadyCondition(getIssuer(t, ns, ref))
		if c == nil {
			return false, "no condition"
		}
		return c.Reason != controllers.ReasonAmbientNotAllowed, c.Reason + ": " + c.Message
	})
}
