package signer

import (
	"testing"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

func TestInstanceStatesPartition(t *testing.T) {
	var all []aliyun.Instance
	for _, st := range []string{aliyun.InstanceInactive, aliyun.InstanceInactive, aliyun.InstancePending,
		aliyun.InstanceNormal, aliyun.InstanceWillExpire, aliyun.InstanceExpired, aliyun.InstanceRefund,
		aliyun.InstanceClosed, "somethingNew"} {
		all = append(all, aliyun.Instance{Status: st, CertificateName: bindingPrefix + "bound"})
	}
	got := *instanceStates(all)
	if want := (InstanceStates{Inactive: 2, Pending: 1, Issued: 2, Other: 4}); got != want {
		t.Fatalf("instanceStates = %+v, want %+v", got, want)
	}
	if got.Inactive+got.Pending+got.Issued+got.Other != len(all) {
		t.Fatal("not a partition")
	}
}
