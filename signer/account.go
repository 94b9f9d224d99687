package signer

import (
	"strconv"
	"strings"
	"sync"
)

// account is what the issuers of one Alibaba Cloud account (endpoint and identity) share in
// this process: several issuers may use one account (a ClusterIssuer and a namespaced Issuer
// with the same AccessKey, or an issuer rebuilt after an edit), and what one of them learns
// about the account holds for all of them.
type account struct {
	// picker keeps two requests signed at the same moment off the same instance before
	// either's state is visible to the other.
	picker *instancePicker
	// listing is the account's V2.0 instances, walked once for all its issuers.
	listing *instanceListing
	// submits is what UpdateInstance was seen to do on this account.

	mu sync.Mutex
	// issuance is, per order API, how long the account's recent orders took to issue.
	issuance map[string]*issuanceHistory
}

var accounts = struct {
	sync.Mutex
	byKey map[string]*account
}{byKey: map[string]*account{}}

// accountOf is the shared state of cfg's account.
func accountOf(cfg Config) *account {
	c := cfg.Credentials
	key := strings.Join([]string{cfg.Endpoint, c.AccessKeyID, c.RoleARN, strconv.FormatBool(c.Ambient)}, "|")
	accounts.Lock()
	defer accounts.Unlock()
	a, ok := accounts.byKey[key]
	if !ok {
		a = &account{picker: newInstancePicker(), listing: &instanceListing{}, issuance: map[string]*issuanceHistory{}}
		accounts.byKey[key] = a
	}
	return a
}

// history is the issuance history of the account's orders placed through orderAPI.
func (a *account) history(orderAPI string) *issuanceHistory {
	a.mu.Lock()
	defer a.mu.Unlock()
	h, ok := a.issuance[orderAPI]
	if !ok {
		h = &issuanceHistory{}
		a.issuance[orderAPI] = h
	}
	return h
}
