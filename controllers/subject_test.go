package controllers_test

import (
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// TestSubjectFieldsWarned: a CSR with subject fields other than the CN is
// accepted and issued, and one Warning Event says CAS DV certificates carry
// only the domain names.
func TestSubjectFieldsWarned(t *testing.T) {
	testKeys(t)
	_, url := startSim(t, aliyunsim.Config{})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "subject", issuerSpec(url, "digicert-free-1-free"))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject:  pkix.Name{CommonName: "org.example.com", Organization: []string{"Example Ltd"}, OrganizationalUnit: []string{"Ops"}},
		DNSNames: []string{"org.example.com"},
	}, keys.p256)
	if err != nil {
		t.Fatal(err)
	}
	key := createCR(t, ns, "org", ref, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: der}))
	approve(t, key)
	waitIssued(t, key)
	var evs int
	eventually(t, 30*time.Second, func() (bool, string) {
		found := eventsFor(t, ns, "org", signer.ReasonSubjectNotCarried)
		evs = len(found)
		if evs == 0 {
			return false, "no SubjectNotCarried event"
		}
		e := found[0]
		return e.Type == "Warning" && strings.Contains(e.Note, "O=Example Ltd") && strings.Contains(e.Note, "OU=Ops"), e.Type + ": " + e.Note
	})
	if evs != 1 {
		t.Fatalf("%d SubjectNotCarried events, want 1", evs)
	}
}
