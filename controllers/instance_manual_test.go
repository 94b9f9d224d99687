package controllers_test

import (
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// Manual validation on subscription instances: the pending request's Ready condition says
// what to publish, from the instance's DomainValidationList; publishing exactly that issues
// (the simulator's CA checks the record's name and value, or the file's content).

// valueAfter is the word of the request's Ready message that follows prefix.
func valueAfter(t *testing.T, cr *cmapi.CertificateRequest, prefix string) string {
	t.Helper()
	msg := readyCond(cr).Message
	_, rest, ok := strings.Cut(msg, prefix)
	if f := strings.Fields(rest); ok && len(f) > 0 {
		return f[0]
	}
	t.Fatalf("the condition %q gives no value after %q", msg, prefix)
	return ""
}

// A DNS record's ValidationKey is relative to RootDomain (here "_dnsauth.www.shop" in
// example.com): the condition names the whole record, and the issuer creates nothing.
func TestInstanceManualDNSValidation(t *testing.T) {
	testKeys(t)
	cfg := instanceSimConfig(1)
	cfg.Validation = aliyunsim.ValidationDNS
	sim, url := startSim(t, cfg)
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "v2-manual", instanceIssuerSpec(url)) // DNS, provider manual: the defaults
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	names := []string{"www.shop.example.com"}
	key := createCR(t, ns, "shop", ref, makeCSR(t, csrSpec{key: keys.p256, cn: names[0], dns: names}), forCertificate("shop"))
	approve(t, key)
	const record = "create DNS TXT record _dnsauth.www.shop.example.com = "
	cr := waitCR(t, key, cmapi.CertificateRequestReasonPending, record, 30*time.Second)
	token := valueAfter(t, cr, record)
	if st := sim.State(); len(st.Records) != 0 || st.Calls["AddDomainRecord"] != 0 {
		t.Fatalf("the issuer made a record itself: %+v", st.Records)
	}

	addRecordAsUser(t, url, "example.com", "_dnsauth.www.shop", "TXT", token)
	verifyIssued(t, sim, waitIssued(t, key), keys.p256, names)
	if _, total := simApplications(sim); total != 1 {
		t.Errorf("%d applications, want 1", total)
	}
}

// A FILE (HTTP) validation: the condition gives the URL and the content to serve.
func TestInstanceFileValidation(t *testing.T) {
	testKeys(t)
	cfg := instanceSimConfig(1)
	cfg.Validation = aliyunsim.ValidationDNS // validated only once the file is served
	sim, url := startSim(t, cfg)
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	spec := instanceIssuerSpec(url)
	spec.Validation.Method = v1alpha1.ValidationMethodFILE
	ref := createIssuer(t, ns, "v2-file", spec)
	waitIssuer(t, ns, ref, metav1.ConditionTrue, "")
	names := []string{"files.example.com"}
	key := createCR(t, ns, "files", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}), forCertificate("files"))
	approve(t, key)
	const fileURL = "http://files.example.com/.well-known/pki-validation/fileauth.txt"
	const serve = "serve " + fileURL + " with content "
	cr := waitCR(t, key, cmapi.CertificateRequestReasonPending, serve, 30*time.Second)
	token := valueAfter(t, cr, serve)
	if err := sim.PutFile(fileURL, token); err != nil {
		t.Fatal(err)
	}
	verifyIssued(t, sim, waitIssued(t, key), keys.rsa2048, names)
}
