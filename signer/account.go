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
	submits *submitKnowledge

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
		a = &account{picker: newInstancePicker(), listing: &instanceListing{}, submits: &submitKnowledge{}, issuance: map[string]*issuanceHistory{}}
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

// submitKnowledge is whether UpdateInstance submits applications by itself on this account
// (reported for BUY DV instances, unverified): until one re-read after UpdateInstance has shown
// that it does not, and whenever it was seen to, the instance is re-read before
// ApplyCertificate. Once known not to, ApplyCertificate follows UpdateInstance at once: should
// the platform have submitted after all, ApplyCertificate is refused
// (OperationDenied.StatusNotSupport, nothing submitted twice) and the instance is read then.
type submitKnowledge struct {
	mu          sync.Mutex
	auto        bool // UpdateInstance was seen to submit
	notAutoSeen bool // a re-read after UpdateInstance found nothing submitted
}

func (k *submitKnowledge) rereadFirst() bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.auto || !k.notAutoSeen
}

func (k *submitKnowledge) saw(auto bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if auto {
		k.auto = true
	} else {
		k.notAutoSeen = true
	}
}
