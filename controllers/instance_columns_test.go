package controllers_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	"k8s.io/client-go/rest"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
)

// `kubectl get aliyuncasclusterissuers` shows the issuer's instances: the Usable and In Flight
// columns are the status counts (In Flight counting an application the CA holds), Quota Left
// the remaining quota of an orderAPI CSR issuer's package and nothing on an instance issuer.
func TestInstancePrinterColumns(t *testing.T) {
	testKeys(t)
	cfg := instanceSimConfig(2)
	cfg.Validation = aliyunsim.ValidationDNS // an application stays in flight: no one creates its record
	cfg.Packages = map[string]aliyunsim.Package{"digicert-free-1-free": {Quota: 5}}
	_, url := startSim(t, cfg)
	opts := testOptions()
	opts.HealthCheckInterval = time.Second // the counts follow the application
	startManager(t, opts)
	ns := newNamespace(t)
	ensureNamespace(t, clusterNS)
	createSecret(t, clusterNS, secretName, credentials(testKeyID, testKeySecret))
	inst := createClusterIssuer(t, ns+"-v2", instanceIssuerSpec(url))
	pkg := createClusterIssuer(t, ns+"-csr", issuerSpec(url, "digicert-free-1-free"))
	waitIssuer(t, "", inst, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	waitIssuer(t, "", pkg, metav1.ConditionTrue, v1alpha1.ReasonChecked)

	waitColumns(t, inst, map[string]string{"Usable": "2", "In Flight": "0", "Quota Left": "<none>"})
	waitColumns(t, pkg, map[string]string{"Usable": "<none>", "In Flight": "<none>", "Quota Left": "5"})

	createCR(t, ns, "held", inst, makeCSR(t, csrSpec{key: keys.p256, cn: "held.example.com"}), forCertificate("held"))
	approve(t, keyOf(ns, "held"))
	waitCR(t, keyOf(ns, "held"), cmapi.CertificateRequestReasonPending, "create DNS TXT record _dnsauth.held.example.com", 30*time.Second)
	waitColumns(t, inst, map[string]string{"Usable": "1", "In Flight": "1", "Quota Left": "<none>"})
}

// waitColumns waits until the issuer's row, as the API server prints it for kubectl, has the
// wanted cells, and the cells say what its status says.
func waitColumns(t *testing.T, ref cmmeta.IssuerReference, want map[string]string) {
	t.Helper()
	eventually(t, 30*time.Second, func() (bool, string) {
		st := getIssuer(t, "", ref).GetStatus()
		var remaining *int32
		if st.PackageState != nil {
			remaining = &st.PackageState.Remaining
		}
		fromStatus := map[string]string{"Usable": cell(st.UsableInstances), "In Flight": cell(st.InFlightInstances), "Quota Left": cell(remaining)}
		got := issuerRow(t, ref.Name)
		for col, w := range want {
			if got[col] != w || fromStatus[col] != w {
				return false, fmt.Sprintf("column %q shows %s, status %s, want %s (row %v)", col, got[col], fromStatus[col], w, got)
			}
		}
		return true, ""
	})
}

// cell is how kubectl prints an optional count.
func cell(n *int32) string {
	if n == nil {
		return "<none>"
	}
	return fmt.Sprint(*n)
}

// issuerRow is a cluster issuer's row of the server-side table (what `kubectl get` prints),
// by column name.
func issuerRow(t *testing.T, name string) map[string]string {
	t.Helper()
	cfg := rest.CopyConfig(env.Config)
	cfg.GroupVersion = &v1alpha1.GroupVersion
	cfg.APIPath = "/apis"
	cfg.NegotiatedSerializer = serializer.NewCodecFactory(env.Scheme).WithoutConversion()
	rc, err := rest.RESTClientFor(cfg)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := rc.Get().Resource("aliyuncasclusterissuers").Name(name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").DoRaw(context.Background())
	if err != nil {
		t.Fatalf("reading %s as a table: %v", name, err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		t.Fatalf("the table of %s: %v", name, err)
	}
	if len(table.Rows) != 1 || len(table.Rows[0].Cells) != len(table.ColumnDefinitions) {
		t.Fatalf("the table of %s: %s", name, raw)
	}
	row := map[string]string{}
	for i, c := range table.ColumnDefinitions {
		v := table.Rows[0].Cells[i]
		if v == nil {
			row[c.Name] = "<none>"
		} else {
			row[c.Name] = fmt.Sprint(v)
		}
	}
	return row
}
