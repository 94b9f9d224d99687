package framework

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/internal/testenv"
)

// The identity the Helm chart gives the controller.
const (
	ChartNamespace      = "aliyun-cas-issuer-system"
	ChartServiceAccount = "aliyun-cas-issuer"
)

// rbacKinds are the objects of the chart that make up the controller's
// identity and permissions.
var rbacKinds = map[string]bool{
	"ServiceAccount": true, "Role": true, "RoleBinding": true, "ClusterRole": true, "ClusterRoleBinding": true,
}

// installChartRBAC renders the Helm chart with bin/helm (values as given,
// e.g. "rbac.secretsClusterWide=true"), creates its ServiceAccount and RBAC
// objects, and writes a kubeconfig that acts as that ServiceAccount (by
// impersonation), so the issuer runs with exactly the chart's permissions.
func (f *Framework) installChartRBAC(ctx context.Context, values []string) (string, error) {
	root, err := testenv.ModuleRoot()
	if err != nil {
		return "", err
	}
	args := []string{"template", "aliyun-cas-issuer", filepath.Join(root, "deploy", "charts", "aliyun-cas-issuer"), "--namespace", ChartNamespace}
	for _, v := range values {
		args = append(args, "--set", v)
	}
	out, err := exec.Command(filepath.Join(root, "bin", "helm"), args...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("helm template: %v: %s", err, ee.Stderr)
		}
		return "", fmt.Errorf("helm template (run `make tools`): %w", err)
	}
	if err := f.EnsureNamespace(ctx, ChartNamespace); err != nil {
		return "", err
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(out), 4096)
	for {
		u := &unstructured.Unstructured{}
		if err := dec.Decode(&u.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return "", err
		}
		if !rbacKinds[u.GetKind()] {
			continue
		}
		if err := f.Client.Create(ctx, u); err != nil && !apierrors.IsAlreadyExists(err) {
			return "", fmt.Errorf("create %s %s: %w", u.GetKind(), u.GetName(), err)
		}
	}
	cfg, err := clientcmd.LoadFromFile(f.Kubeconfig)
	if err != nil {
		return "", err
	}
	for _, a := range cfg.AuthInfos {
		a.Impersonate = "system:serviceaccount:" + ChartNamespace + ":" + ChartServiceAccount
	}
	path := filepath.Join(f.WorkDir, "issuer-kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", err
	}
	if err := os.Chmod(path, 0o600); err != nil {
		return "", err
	}
	// Prove the identity is the restricted one: the chart grants no access
	// to Nodes.
	rc, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return "", err
	}
	c, err := client.New(rc, client.Options{Scheme: f.Env.Scheme})
	if err != nil {
		return "", err
	}
	if err := c.List(ctx, &corev1.NodeList{}); !apierrors.IsForbidden(err) {
		return "", fmt.Errorf("the issuer's kubeconfig is not restricted to the chart's RBAC (listing Nodes: %v)", err)
	}
	return path, nil
}
