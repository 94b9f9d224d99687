package controllers_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// orderAPI DVOrder with automatic DNS validation (provider alidns): the
// record is created and removed by the issuer, with no human step.

func dvAlidnsIssuerSpec(sim *aliyunsim.Simulator, url string) v1alpha1.IssuerSpec {
	spec := dvIssuerSpec(url)
	spec.Validation = alidnsIssuerSpec(sim, url).Validation
	return spec
}

func TestDVOrderAlidns(t *testing.T) {
	testKeys(t)
	sim, url := alidnsSimulator(t, aliyunsim.Config{DVInstances: 2})
	// The CA of this one takes an hour after the proof: its order waits.
	slow, slowURL := alidnsSimulator(t, aliyunsim.Config{DVInstances: 1, ValidationDelay: time.Hour})
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	ref := createIssuer(t, ns, "dv-alidns", dvAlidnsIssuerSpec(sim, url))
	waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	names := []string{"www.example.com"}
	createNextKeySecret(t, ns, "web-next", keys.rsa2048)
	first := createCR(t, ns, "web-1", ref, makeCSR(t, csrSpec{key: keys.rsa2048, cn: names[0], dns: names}), withNextKey("web-next"))
	approve(t, first)
	cr := waitCR(t, first, signer.ReasonKeyAdopted, "cert-manager will re-issue", 60*time.Second)
	if st := cr.Annotations[v1alpha1.AnnotationOrderState]; strings.Contains(st, "validationRecords") {
		t.Errorf("validation records still recorded: %s", st)
	}
	want := "created DNS TXT record _dnsauth.www.example.com in Alidns zone example.com; waiting for CAS to validate"
	found := false
	for _, ev := range eventsFor(t, ns, "web-1", signer.ReasonDomainVerify) {
		found = found || strings.Contains(ev.Note, want)
	}
	if !found {
		t.Errorf("no DomainVerify event %q", want)
	}
	adopted := secretKey(t, readSecret(t, ns, "web-next"))
	second := createCR(t, ns, "web-2", ref, makeCSR(t, csrSpec{key: adopted, cn: names[0], dns: names}), withNextKey("web-next"))
	approve(t, second)
	verifyIssued(t, sim, waitIssued(t, second), adopted, names)
	st := sim.State()
	if len(st.Records) != 0 || st.Calls["CreateDVOrderAudit"] != 1 || st.Calls["AddDomainRecord"] != 1 || st.Calls["DeleteDomainRecord"] != 1 {
		t.Errorf("records %+v calls %v", st.Records, st.Calls)
	}

	// A DV request deleted while its order waits: the record is removed,
	// and the Event does not claim the instance is returned.
	slowRef := createIssuer(t, ns, "dv-alidns-slow", dvAlidnsIssuerSpec(slow, slowURL))
	waitIssuer(t, ns, slowRef, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	createNextKeySecret(t, ns, "del-next", keys.rsa2048)
	del := createCR(t, ns, "del", slowRef, makeCSR(t, csrSpec{key: keys.rsa2048, cn: "del.example.com", dns: []string{"del.example.com"}}), withNextKey("del-next"))
	approve(t, del)
	eventually(t, 30*time.Second, func() (bool, string) {
		return len(slow.State().Records) == 1, "no record yet"
	})
	if err := env.Client.Delete(context.Background(), getCR(t, del)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		err := env.Client.Get(context.Background(), del, &cmapi.CertificateRequest{})
		return apierrors.IsNotFound(err) && len(slow.State().Records) == 0, fmt.Sprintf("%v, records %d", err, len(slow.State().Records))
	})
	if ev := eventsFor(t, ns, "del", "OrderCancelled"); len(ev) > 0 {
		t.Errorf("the DV order was reported cancelled: %s", ev[0].Note)
	}
	eventually(t, 30*time.Second, func() (bool, string) {
		for _, ev := range eventsFor(t, ns, "del", "ValidationRecordsRemoved") {
			if strings.Contains(ev.Note, "a DV instance cannot be returned") {
				return true, ""
			}
		}
		return false, "no ValidationRecordsRemoved Event"
	})
}
