package framework

import (
	"context"
	"fmt"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/api/v1alpha1"
)

// Poll calls cond every interval until it returns true, an error, or ctx
// ends; the last "not yet" explanation is part of the timeout error.
func Poll(ctx context.Context, interval time.Duration, cond func(context.Context) (bool, string, error)) error {
	last := ""
	for {
		ok, why, err := cond(ctx)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		last = why
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %s", ctx.Err(), last)
		case <-time.After(interval):
		}
	}
}

// ReadyCondition returns the Ready condition of a Certificate, or nil.
func ReadyCondition(conds []cmapi.CertificateCondition) *cmapi.CertificateCondition {
	for i := range conds {
		if conds[i].Type == cmapi.CertificateConditionReady {
			return &conds[i]
		}
	}
	return nil
}

// WaitCertificateReady waits until the Certificate is Ready=True for its
// current generation and returns it with its Secret.
func (f *Framework) WaitCertificateReady(ctx context.Context, namespace, name string) (*cmapi.Certificate, *corev1.Secret, error) {
	var cert cmapi.Certificate
	err := Poll(ctx, 200*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, &cert); err != nil {
			return false, err.Error(), nil
		}
		c := ReadyCondition(cert.Status.Conditions)
		if c == nil {
			return false, "no Ready condition yet", nil
		}
		if c.Status == cmmeta.ConditionTrue && c.ObservedGeneration == cert.Generation {
			return true, "", nil
		}
		return false, fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message), nil
	})
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %s/%s not Ready: %w", namespace, name, err)
	}
	var sec corev1.Secret
	if err := f.Client.Get(ctx, client.ObjectKey{Namespace: namespace, Name: cert.Spec.SecretName}, &sec); err != nil {
		return nil, nil, err
	}
	return &cert, &sec, nil
}

// WaitIssuerReady waits until an AliyunCASIssuer or AliyunCASClusterIssuer is
// Ready for its current generation (iss is refreshed in place).
func (f *Framework) WaitIssuerReady(ctx context.Context, iss v1alpha1.GenericIssuer) error {
	err := Poll(ctx, 100*time.Millisecond, func(ctx context.Context) (bool, string, error) {
		if err := f.Client.Get(ctx, client.ObjectKeyFromObject(iss), iss); err != nil {
			return false, err.Error(), nil
		}
		if c := v1alpha1.ReadyCondition(iss); c != nil {
			return v1alpha1.IsReady(iss), c.Reason + ": " + c.Message, nil
		}
		return false, "no Ready condition yet", nil
	})
	if err != nil {
		return fmt.Errorf("%s %s not Ready: %w", iss.KindName(), iss.GetName(), err)
	}
	return nil
}
