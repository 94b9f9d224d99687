package e2e_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// TestCertificateSync: a Certificate issued by cert-manager's in-tree CA
// issuer is uploaded to CAS by an AliyunCASCertificateSync, once; its
// renewal is uploaded and the replaced upload deleted; deleting the sync
// deletes the upload. The issuer binary runs with the chart's RBAC.
func TestCertificateSync(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	ns := namespace(t, ctx)
	caIssuer := caIssuerIn(t, ctx, ns)
	cas := namespacedIssuer(t, ctx, ns, "cas-sync", freeProduct)

	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: cmapi.CertificateSpec{
			SecretName: "web-tls", CommonName: "web.example.com", DNSNames: []string{"web.example.com"},
			IssuerRef:  caIssuer,
			PrivateKey: &cmapi.CertificatePrivateKey{Algorithm: cmapi.ECDSAKeyAlgorithm, Size: 256},
		},
	}
	if err := f.Client.Create(ctx, cert); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.WaitCertificateReady(ctx, ns, "web"); err != nil {
		t.Fatal(err)
	}
	before := f.Sim.State().Calls["UploadUserCertificate"]

	sync := &v1alpha1.AliyunCASCertificateSync{
		ObjectMeta: metav1.ObjectMeta{Name: "web", Namespace: ns},
		Spec: v1alpha1.CertificateSyncSpec{
			SecretName:     "web-tls",
			IssuerRef:      v1alpha1.SyncIssuerRef{Kind: cas.Kind, Name: cas.Name},
			RetainPrevious: &metav1.Duration{Duration: 0},
		},
	}
	if err := f.Client.Create(ctx, sync); err != nil {
		t.Fatal(err)
	}
	firstSerial := secretSerial(t, ctx, ns, "web-tls")
	first := waitSyncSerial(t, ctx, client.ObjectKeyFromObject(sync), firstSerial)
	if _, ok := simUpload(first.Status.CertID); !ok {
		t.Fatalf("CertId %s is not in the simulator's account", first.Status.CertID)
	}
	if got := f.Sim.State().Calls["UploadUserCertificate"] - before; got != 1 {
		t.Errorf("%d uploads for one certificate", got)
	}

	// Renewal, as `cmctl renew` triggers it.
	renew(t, ctx, ns, "web")
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		serial := secretSerial(t, ctx, ns, "web-tls")
		return serial != "" && serial != firstSerial, "waiting for the renewed Secret", nil
	}); err != nil {
		t.Fatal(err)
	}
	second := waitSyncSerial(t, ctx, client.ObjectKeyFromObject(sync), secretSerial(t, ctx, ns, "web-tls"))
	if second.Status.CertID == first.Status.CertID {
		t.Fatal("the renewal was not uploaded")
	}
	if err := framework.Poll(ctx, 200*time.Millisecond, func(context.Context) (bool, string, error) {
		_, ok := simUpload(first.Status.CertID)
		return !ok, "the replaced upload is still in CAS", nil
	}); err != nil {
		t.Fatal(err)
	}

	if err := f.Client.Delete(ctx, sync); err != nil {
		t.Fatal(err)
	}
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		err := f.Client.Get(ctx, client.ObjectKeyFromObject(sync), &v1alpha1.AliyunCASCertificateSync{})
		_, uploaded := simUpload(second.Status.CertID)
		return apierrors.IsNotFound(err) && !uploaded, fmt.Sprintf("sync: %v, upload present: %v", err, uploaded), nil
	}); err != nil {
		t.Fatal(err)
	}
}

// caIssuerIn creates a cert-manager CA Issuer backed by a fresh CA.
func caIssuerIn(t *testing.T, ctx context.Context, ns string) cmmeta.IssuerReference {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "e2e sync CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(30 * 24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	sec := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "sync-ca", Namespace: ns}, Type: corev1.SecretTypeTLS, Data: map[string][]byte{
		corev1.TLSCertKey:       pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		corev1.TLSPrivateKeyKey: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}),
	}}
	iss := &cmapi.Issuer{ObjectMeta: metav1.ObjectMeta{Name: "ca", Namespace: ns},
		Spec: cmapi.IssuerSpec{IssuerConfig: cmapi.IssuerConfig{CA: &cmapi.CAIssuer{SecretName: sec.Name}}}}
	for _, o := range []client.Object{sec, iss} {
		if err := f.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
			return false, err.Error(), nil
		}
		for _, c := range iss.Status.Conditions {
			if c.Type == cmapi.IssuerConditionReady {
				return c.Status == cmmeta.ConditionTrue, c.Message, nil
			}
		}
		return false, "no Ready condition", nil
	}); err != nil {
		t.Fatal(err)
	}
	return cmmeta.IssuerReference{Kind: "Issuer", Name: iss.Name}
}

func renew(t *testing.T, ctx context.Context, ns, name string) {
	t.Helper()
	var cert cmapi.Certificate
	if err := f.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cert); err != nil {
		t.Fatal(err)
	}
	cert.Status.Conditions = append(cert.Status.Conditions, cmapi.CertificateCondition{
		Type: cmapi.CertificateConditionIssuing, Status: cmmeta.ConditionTrue,
		Reason: "ManuallyTriggered", Message: "Certificate re-issuance manually triggered",
		LastTransitionTime: &metav1.Time{Time: time.Now()}, ObservedGeneration: cert.Generation,
	})
	if err := f.Client.Status().Update(ctx, &cert); err != nil {
		t.Fatal(err)
	}
}

// secretSerial is the serial (lower-case hex) of the leaf in a TLS Secret.
func secretSerial(t *testing.T, ctx context.Context, ns, name string) string {
	t.Helper()
	var sec corev1.Secret
	if err := f.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &sec); err != nil {
		return ""
	}
	certs, err := framework.ParseCertificates(sec.Data[corev1.TLSCertKey])
	if err != nil || len(certs) == 0 {
		return ""
	}
	return certs[0].SerialNumber.Text(16)
}

func simUpload(certID string) (aliyunsim.UserCertState, bool) {
	for _, c := range f.Sim.State().UserCertificates {
		if c.Upload && fmt.Sprint(c.ID) == certID {
			return c, true
		}
	}
	return aliyunsim.UserCertState{}, false
}

func uploadSerial(certID string) string {
	c, _ := simUpload(certID)
	return c.Serial
}

// waitSyncSerial waits until the sync is Ready with an upload that holds
// the certificate of the given serial.
func waitSyncSerial(t *testing.T, ctx context.Context, key client.ObjectKey, serial string) *v1alpha1.AliyunCASCertificateSync {
	t.Helper()
	s := &v1alpha1.AliyunCASCertificateSync{}
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, key, s); err != nil {
			return false, err.Error(), nil
		}
		c := meta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		if c == nil {
			return false, "no Ready condition", nil
		}
		ok := c.Status == metav1.ConditionTrue && s.Status.CertID != "" && strings.EqualFold(uploadSerial(s.Status.CertID), serial)
		return ok, fmt.Sprintf("Ready=%s %s: %s (certId %s)", c.Status, c.Reason, c.Message, s.Status.CertID), nil
	}); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCertificateSyncServiceTargetsAreOptIn: with the chart's default
// Service permissions (none), a sync that targets a Service uploads its
// certificate but reports the refused Service, and never patches it.
func TestCertificateSyncServiceTargetsAreOptIn(t *testing.T) {
	ctx := testCtx(t, 2*time.Minute)
	ns := namespace(t, ctx)
	caIssuer := caIssuerIn(t, ctx, ns)
	cas := namespacedIssuer(t, ctx, ns, "cas-sync", freeProduct)
	cert := &cmapi.Certificate{
		ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: ns},
		Spec:       cmapi.CertificateSpec{SecretName: "lb-tls", CommonName: "lb.example.com", DNSNames: []string{"lb.example.com"}, IssuerRef: caIssuer},
	}
	svc := &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: ns},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeLoadBalancer, Ports: []corev1.ServicePort{{Name: "https", Port: 443}}}}
	for _, o := range []client.Object{cert, svc} {
		if err := f.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.WaitCertificateReady(ctx, ns, "lb"); err != nil {
		t.Fatal(err)
	}
	sync := &v1alpha1.AliyunCASCertificateSync{
		ObjectMeta: metav1.ObjectMeta{Name: "lb", Namespace: ns},
		Spec: v1alpha1.CertificateSyncSpec{
			SecretName: "lb-tls", IssuerRef: v1alpha1.SyncIssuerRef{Kind: cas.Kind, Name: cas.Name},
			Targets: &v1alpha1.SyncTargets{Services: []string{"lb"}},
		},
	}
	if err := f.Client.Create(ctx, sync); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = f.Client.Delete(context.Background(), sync) })
	if err := framework.Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKeyFromObject(sync), sync); err != nil {
			return false, err.Error(), nil
		}
		c := meta.FindStatusCondition(sync.Status.Conditions, v1alpha1.ConditionReady)
		if c == nil {
			return false, "no Ready condition", nil
		}
		return c.Reason == "TargetUpdateFailed" && strings.Contains(c.Message, "forbidden") && sync.Status.CertID != "",
			fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message), nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := f.Client.Get(ctx, client.ObjectKeyFromObject(svc), svc); err != nil {
		t.Fatal(err)
	}
	if v, ok := svc.Annotations[v1alpha1.AnnotationLoadBalancerCertID]; ok {
		t.Errorf("the Service was patched without the opt-in: %q", v)
	}
}
