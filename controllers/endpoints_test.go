package controllers_test

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/aliyunsim"
	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// TestEndpointRefusals: without --allow-insecure-endpoints, a plain http
// endpoint, a metadata-address endpoint on a namespaced issuer, and
// auth.stsEndpoint with ambient credentials on a namespaced issuer each
// leave the issuer not Ready with a reason of its own; a redirecting
// endpoint is never followed, flag or not.
func TestEndpointRefusals(t *testing.T) {
	sim, url := startSim(t, aliyunsim.Config{})
	opts := testOptions()
	opts.AllowInsecureEndpoints = false
	opts.IssuerAmbientCredentials = true // so that the stsEndpoint rule is what refuses
	m := startManager(t, opts)
	ns := newNamespace(t)
	createSecret(t, ns, secretName, credentials(testKeyID, testKeySecret))

	plain := createIssuer(t, ns, "plain-http", issuerSpec(url, "digicert-free-1-free"))
	metadata := createIssuer(t, ns, "metadata", issuerSpec("https://100.100.100.200", "digicert-free-1-free"))
	ambient := issuerSpec("https://cas.aliyuncs.com", "digicert-free-1-free")
	ambient.Auth = v1alpha1.Auth{Ambient: &v1alpha1.AmbientAuth{}, STSEndpoint: "https://sts.example.com"}
	sts := createIssuer(t, ns, "ambient-sts", ambient)

	waitIssuer(t, ns, plain, metav1.ConditionFalse, aliyun.ReasonInsecureEndpoint)
	waitIssuer(t, ns, metadata, metav1.ConditionFalse, aliyun.ReasonPrivateEndpoint)
	waitIssuer(t, ns, sts, metav1.ConditionFalse, aliyun.ReasonSTSEndpointNotAllowed)
	if n := sim.State().Calls["DescribePackageState"]; n != 0 {
		t.Fatalf("a refused endpoint was called %d times", n)
	}
	m.stop(t)

	// With the flag, plain http on loopback is accepted; a redirect still
	// is not followed.
	target, targetURL := startSim(t, aliyunsim.Config{})
	var redirected atomic.Int32
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirected.Add(1)
		http.Redirect(w, r, targetURL+"/", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(redirector.Close)
	startManager(t, testOptions())
	redirect := createIssuer(t, ns, "redirect", issuerSpec(redirector.URL, "digicert-free-1-free"))
	waitIssuer(t, ns, redirect, metav1.ConditionFalse, aliyun.ReasonEndpointRedirect)
	waitIssuer(t, ns, plain, metav1.ConditionTrue, v1alpha1.ReasonChecked)
	if redirected.Load() == 0 {
		t.Fatal("the redirecting endpoint was never called")
	}
	if n := len(target.State().Calls); n != 0 {
		t.Fatalf("the redirect was followed: %v", target.State().Calls)
	}
}
