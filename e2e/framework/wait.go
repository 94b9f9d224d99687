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

// Consistently calls cond every interval for d and fails at the first call
// where it does not hold (or returns an error): the bounded check that
// something does not happen. cond is called at least twice, at once and
// when d is over; ctx ending early is an error too, as the check did not
// cover d.
func Consistently(ctx context.Context, d, interval time.Duration, cond func(context.Context) (bool, string, error)) error {
	start := time.Now()
	for {
		ok, why, err := cond(ctx)
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("after %s of %s: %s", time.Since(start).Round(time.Millisecond), d, why)
		}
		left := d - time.Since(start)
		if left <= 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w before %s were over", ctx.Err(), d)
		case <-time.After(min(interval, left)):
		}
	}
}

// ReadyCondition returns the Ready condition of a Certificate, or nil.
func ReadyCondition(conds []cmapi.CertificateCondition) *cmapi.CertificateCondition {
	return certificateCondition(conds, cmapi.CertificateConditionReady)
}

func certificateCondition(conds []cmapi.CertificateCondition, typ cmapi.CertificateConditionType) *cmapi.CertificateCondition {
	for i := range conds {
		if conds[i].Type == typ {
			return &conds[i]
		}
	}
	return nil
}

// WaitCertificateReady waits until the Certificate is Ready=True for its
// current generation with its issuance finished, and returns it with its
// Secret. cert-manager records the finished issuance (status.revision, the
// Issuing condition removed) in a write of its own after the one that makes
// it Ready, so Ready alone does not mean the revision is there yet.
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
		if c.Status != cmmeta.ConditionTrue || c.ObservedGeneration != cert.Generation {
			return false, fmt.Sprintf("Ready=%s %s: %s", c.Status, c.Reason, c.Message), nil
		}
		if issuing := certificateCondition(cert.Status.Conditions, cmapi.CertificateConditionIssuing); issuing != nil && issuing.Status == cmmeta.ConditionTrue {
			return false, "Ready, but still Issuing: " + issuing.Reason, nil
		}
		if cert.Status.Revision == nil {
			return false, "Ready, but no revision recorded yet", nil
		}
		return true, "", nil
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
