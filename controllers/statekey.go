package controllers

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"strings"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// The order state key: a random key, generated at the first start, that
// the controller keeps in a Secret of its own namespace and authenticates
// the order state with (see statetrust.go). Requesters cannot read it, so
// they cannot write state the controller trusts.

// StateKeySecretName is the Secret holding the order state key (key
// stateKeyField), in the controller's own namespace.
const StateKeySecretName = "aliyun-cas-issuer-state-key"

const (
	stateKeyField = "key"
	stateKeyBytes = 32
	// serviceAccountNamespaceFile is where a pod finds its namespace.
	serviceAccountNamespaceFile = "/var/run/secrets/kubernetes.io/serviceaccount/namespace"
)

// loadStateKey reads the order state key, creating it if absent. Two
// replicas starting at once are safe: only one create succeeds, and both
// then read the same key.
func loadStateKey(ctx context.Context, reader client.Reader, writer client.Client, namespace string) (stateKey, error) {
	key := types.NamespacedName{Namespace: namespace, Name: StateKeySecretName}
	read := func() (stateKey, error) {
		sec := &corev1.Secret{}
		if err := reader.Get(ctx, key, sec); err != nil {
			return nil, err
		}
		k := sec.Data[stateKeyField]
		if len(k) < stateKeyBytes {
			return nil, fmt.Errorf("secret %s holds no usable order state key (key %q of at least %d bytes); delete it to have a new one generated", key, stateKeyField, stateKeyBytes)
		}
		return stateKey(k), nil
	}
	k, err := read()
	if !apierrors.IsNotFound(err) {
		return k, wrapKeyErr(key, err)
	}
	fresh := make([]byte, stateKeyBytes)
	if _, err := rand.Read(fresh); err != nil {
		return nil, err
	}
	sec := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: StateKeySecretName,
			Labels: map[string]string{"app.kubernetes.io/name": "aliyun-cas-issuer"}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{stateKeyField: fresh},
	}
	if err := writer.Create(ctx, sec); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, wrapKeyErr(key, err)
	}
	k, err = read()
	return k, wrapKeyErr(key, err)
}

func wrapKeyErr(key types.NamespacedName, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("the order state key (Secret %s; the controller needs get and create on it): %w", key, err)
}

// ownNamespace is the namespace the controller runs in: the pod's, or,
// outside a pod, the namespace of the ServiceAccount it acts as; "" when
// neither is known.
func ownNamespace(ctx context.Context, c client.Client) string {
	if b, err := os.ReadFile(serviceAccountNamespaceFile); err == nil {
		if ns := strings.TrimSpace(string(b)); ns != "" {
			return ns
		}
	}
	review := &authenticationv1.SelfSubjectReview{}
	if err := c.Create(ctx, review); err != nil {
		return ""
	}
	ns, _ := serviceAccountNamespace(review.Status.UserInfo.Username)
	return ns
}

// serviceAccountNamespace is the namespace of a ServiceAccount user name
// ("system:serviceaccount:<namespace>:<name>").
func serviceAccountNamespace(user string) (string, error) {
	parts := strings.Split(user, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] == "" {
		return "", errors.New("not a service account")
	}
	return parts[2], nil
}
