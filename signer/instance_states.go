package signer

import "github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"

// instanceStates counts instances by state for the issuer's metrics. Unlike
// countInstances, an issued instance bound to a Certificate counts as
// issued, not usable: the partition says what the account holds, the usable
// count what a request can take.
func instanceStates(all []aliyun.Instance) *InstanceStates {
	var st InstanceStates
	for _, inst := range all {
		switch inst.Status {
		case aliyun.InstanceInactive:
			st.Inactive++
		case aliyun.InstancePending:
			st.Pending++
		case aliyun.InstanceNormal, aliyun.InstanceWillExpire:
			st.Issued++
		default:
			st.Other++
		}
	}
	return &st
}
