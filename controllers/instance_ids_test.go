package controllers_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer"
)

// spec.instance.instanceIDs: the issuer uses the instances listed and no other, even an
// inactive one of the account; once the listed ones are taken, requests wait and say what
// the listed instances are.
func TestInstanceIDsOnly(t *testing.T) {
	testKeys(t)
	sim, url := startSim(t, instanceSimConfig(2))
	insts := sim.State().Instances
	listed, other := insts[0].ID, insts[1].ID
	startManager(t, testOptions())
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))
	spec := instanceIssuerSpec(url)
	spec.Instance = &v1alpha1.InstanceOrder{InstanceIDs: []string{listed}}
	ref := createIssuer(t, ns, "v2-listed", spec)
	if st := waitIssuer(t, ns, ref, metav1.ConditionTrue, v1alpha1.ReasonChecked).GetStatus(); st.UsableInstances == nil || *st.UsableInstances != 1 {
		t.Fatalf("usable instances %v, want the 1 listed", st.UsableInstances)
	}

	names := []string{"one.example.com"}
	key := createCR(t, ns, "one", ref, makeCSR(t, csrSpec{key: keys.p256, cn: names[0], dns: names}), forCertificate("one"))
	approve(t, key)
	cr := waitIssued(t, key)
	verifyIssued(t, sim, cr, keys.p256, names)
	if got := cr.Annotations[v1alpha1.AnnotationInstanceID]; got != listed {
		t.Fatalf("issued on %q, want the listed %s", got, listed)
	}

	// Another Certificate: the listed instance is bound to "one"; the other, inactive
	// instance is not the issuer's to take.
	two := createCR(t, ns, "two", ref, makeCSR(t, csrSpec{key: keys.p256, cn: "two.example.com"}), forCertificate("two"))
	approve(t, two)
	const why = "spec.instance.instanceIDs name 1 DV instances (1 normal), 0 of them inactive and free"
	cr = waitCR(t, two, cmapi.CertificateRequestReasonPending, "no usable CAS subscription instance", 30*time.Second)
	if msg := readyCond(cr).Message; !strings.Contains(msg, why) {
		t.Fatalf("the condition %q does not say %q", msg, why)
	}
	eventually(t, 10*time.Second, func() (bool, string) {
		return len(eventsFor(t, ns, "two", signer.ReasonNoUsableInstance)) > 0, "no NoUsableInstance event: " + describeCR(getCR(t, two))
	})
	consistently(t, 2*time.Second, func() (bool, string) {
		for _, i := range sim.State().Instances {
			if i.ID == other && (i.Status != "inactive" || i.Domain != "" || i.Applications != 0 || len(i.Tags) != 0) {
				return false, fmt.Sprintf("the unlisted instance was touched: %+v", i)
			}
		}
		per, total := simApplications(sim)
		return total == 1 && per[listed] == 1, fmt.Sprintf("applications %v", per)
	})
}
