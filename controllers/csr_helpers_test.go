package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	certificatesv1 "k8s.io/api/certificates/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// Helpers for Kubernetes CertificateSigningRequests (cluster-scoped).

func clusterSignerName(name string) string { return v1alpha1.ClusterIssuerSignerDomain + "/" + name }

func issuerSignerName(ns, name string) string {
	return v1alpha1.IssuerSignerDomain + "/" + ns + "." + name
}

type csrOption func(*certificatesv1.CertificateSigningRequest)

func withExpirationSeconds(s int32) csrOption {
	return func(c *certificatesv1.CertificateSigningRequest) { c.Spec.ExpirationSeconds = &s }
}

// createCSR creates a CSR as the cluster admin (or as c, when given).
func createCSR(t *testing.T, c client.Client, name, signerName string, request []byte, opts ...csrOption) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	csr := &certificatesv1.CertificateSigningRequest{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: certificatesv1.CertificateSigningRequestSpec{
			SignerName: signerName,
			Request:    request,
			Usages:     []certificatesv1.KeyUsage{certificatesv1.UsageDigitalSignature, certificatesv1.UsageKeyEncipherment, certificatesv1.UsageServerAuth},
		},
	}
	for _, o := range opts {
		o(csr)
	}
	if c == nil {
		c = env.Client
	}
	if err := c.Create(context.Background(), csr); err != nil {
		t.Fatalf("creating CSR %s: %v", name, err)
	}
	t.Cleanup(func() { deleteCSR(t, name) })
	return csr
}

// deleteCSR deletes a CSR and waits until it is gone (its finalizer
// released).
func deleteCSR(t *testing.T, name string) {
	t.Helper()
	csr := &certificatesv1.CertificateSigningRequest{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Delete(context.Background(), csr); err != nil && !apierrors.IsNotFound(err) {
		t.Errorf("deleting CSR %s: %v", name, err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, &certificatesv1.CertificateSigningRequest{})
		return apierrors.IsNotFound(err), "CSR " + name + " still exists"
	})
}

func getCSR(t *testing.T, name string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	csr := &certificatesv1.CertificateSigningRequest{}
	if err := env.Client.Get(context.Background(), client.ObjectKey{Name: name}, csr); err != nil {
		t.Fatalf("reading CSR %s: %v", name, err)
	}
	return csr
}

func clientset(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// decideCSR approves or denies a CSR through the /approval subresource, as
// `kubectl certificate approve|deny` does.
func decideCSR(t *testing.T, name string, typ certificatesv1.RequestConditionType) {
	t.Helper()
	cs := clientset(t)
	eventually(t, 10*time.Second, func() (bool, string) {
		csr, err := cs.CertificatesV1().CertificateSigningRequests().Get(context.Background(), name, metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		csr.Status.Conditions = append(csr.Status.Conditions, certificatesv1.CertificateSigningRequestCondition{
			Type: typ, Status: corev1.ConditionTrue, Reason: "Test", Message: "decided by the test",
		})
		if _, err := cs.CertificatesV1().CertificateSigningRequests().UpdateApproval(context.Background(), name, csr, metav1.UpdateOptions{}); err != nil {
			return false, err.Error()
		}
		return true, ""
	})
}

func csrCondition(csr *certificatesv1.CertificateSigningRequest, typ certificatesv1.RequestConditionType) *certificatesv1.CertificateSigningRequestCondition {
	for i := range csr.Status.Conditions {
		if csr.Status.Conditions[i].Type == typ {
			return &csr.Status.Conditions[i]
		}
	}
	return nil
}

func describeCSR(csr *certificatesv1.CertificateSigningRequest) string {
	var parts []string
	for _, c := range csr.Status.Conditions {
		parts = append(parts, fmt.Sprintf("%s=%s(%s: %s)", c.Type, c.Status, c.Reason, c.Message))
	}
	return fmt.Sprintf("conditions [%s], certificate %d bytes, annotations %v", strings.Join(parts, " "), len(csr.Status.Certificate), csr.Annotations)
}

// waitCSRIssued waits for status.certificate and returns it as a
// CertificateRequest status, for verifyIssued.
func waitCSRIssued(t *testing.T, name string) *cmapi.CertificateRequest {
	t.Helper()
	var csr *certificatesv1.CertificateSigningRequest
	eventually(t, 60*time.Second, func() (bool, string) {
		csr = getCSR(t, name)
		if c := csrCondition(csr, certificatesv1.CertificateFailed); c != nil {
			t.Fatalf("CSR %s failed: %s", name, describeCSR(csr))
		}
		return len(csr.Status.Certificate) > 0, describeCSR(csr)
	})
	return &cmapi.CertificateRequest{Status: cmapi.CertificateRequestStatus{Certificate: csr.Status.Certificate}}
}

// waitCSRFailed waits for the Failed condition with reason.
func waitCSRFailed(t *testing.T, name, reason, msg string) *certificatesv1.CertificateSigningRequest {
	t.Helper()
	var csr *certificatesv1.CertificateSigningRequest
	eventually(t, 30*time.Second, func() (bool, string) {
		csr = getCSR(t, name)
		for _, c := range csr.Status.Conditions {
			if c.Type == certificatesv1.CertificateFailed && c.Status == corev1.ConditionTrue && c.Reason == reason && strings.Contains(c.Message, msg) {
				return true, ""
			}
		}
		return false, describeCSR(csr)
	})
	return csr
}

// waitCSREvent waits for an Event about the CSR (recorded in "default")
// with reason whose note contains text.
func waitCSREvent(t *testing.T, name, reason, text string) string {
	t.Helper()
	var found string
	eventually(t, 30*time.Second, func() (bool, string) {
		var notes []string
		for _, e := range eventsFor(t, metav1.NamespaceDefault, name, "") {
			if e.Regarding.Kind != "CertificateSigningRequest" {
				continue
			}
			if e.Reason == reason && strings.Contains(e.Note, text) {
				found = e.Note
				return true, ""
			}
			notes = append(notes, e.Reason+": "+e.Note)
		}
		return false, fmt.Sprintf("no %s Event with %q about CSR %s; events: %q", reason, text, name, notes)
	})
	return found
}

// userClient is a client acting as user, who may create CSRs (and, with
// referenceNS, reference the issuers of that namespace).
func userClient(t *testing.T, user, referenceNS string) client.Client {
	t.Helper()
	ctx := context.Background()
	role := &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-creator-" + user},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{"certificates.k8s.io"}, Resources: []string{"certificatesigningrequests"}, Verbs: []string{"create", "get"}}},
	}
	bind := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "csr-creator-" + user},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
	}
	objs := []client.Object{role, bind}
	if referenceNS != "" {
		// The Role a namespace admin grants to let a user's CSRs use the
		// namespace's issuers (docs/kubernetes-csr.md).
		objs = append(objs,
			&rbacv1.Role{
				ObjectMeta: metav1.ObjectMeta{Namespace: referenceNS, Name: "reference-issuers-" + user},
				Rules: []rbacv1.PolicyRule{{APIGroups: []string{v1alpha1.GroupName}, Resources: []string{v1alpha1.SignersResource},
					Verbs: []string{v1alpha1.VerbReference}, ResourceNames: []string{"*"}}},
			},
			&rbacv1.RoleBinding{
				ObjectMeta: metav1.ObjectMeta{Namespace: referenceNS, Name: "reference-issuers-" + user},
				RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "reference-issuers-" + user},
				Subjects:   []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: user}},
			})
	}
	for _, o := range objs {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatalf("creating %T %s: %v", o, o.GetName(), err)
		}
		t.Cleanup(func() { _ = env.Client.Delete(context.Background(), o) })
	}
	cfg := rest.CopyConfig(env.Config)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:authenticated"}}
	c, err := client.New(cfg, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
