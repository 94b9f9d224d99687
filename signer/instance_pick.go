package signer

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Which subscription instance a request gets, and the contacts its application names.

const (
	// instancePageSize and maxInstanceListPages bound one walk through ListInstances.
	instancePageSize     = 100
	maxInstanceListPages = 100
	// bindingPrefix starts every binding name, telling instances bound to some Certificate.
	bindingPrefix = "cert-manager-"
)

// listAll is the account's DV instances: the shared listing when its walk started at most
// maxAge ago, else a new walk (shared with every caller meanwhile).
func (s *instanceSigner) listAll(ctx context.Context, maxAge time.Duration) ([]aliyun.Instance, error) {
	return s.account.listing.get(ctx, s.now(), maxAge, s.walkInstances)
}

// walkInstances walks ListInstances (DV instances) page by page.
func (s *instanceSigner) walkInstances(ctx context.Context) ([]aliyun.Instance, error) {
	var all []aliyun.Instance
	seen := map[string]bool{}
	for page := 1; page <= maxInstanceListPages; page++ {
		l, err := s.client.ListInstances(ctx, aliyun.InstanceQuery{CertificateType: "DV", CurrentPage: page, ShowSize: instancePageSize})
		if err != nil {
			return nil, withContext(err, "listing the CAS subscription instances")
		}
		n := 0
		for _, inst := range l.InstanceList {
			if inst.InstanceID != "" && !seen[inst.InstanceID] {
				seen[inst.InstanceID] = true
				all = append(all, inst)
				n++
			}
		}
		if n == 0 || len(all) >= int(l.TotalCount) {
			break
		}
	}
	return all, nil
}

// inactivePage is the first page of the account's inactive DV instances.
func (s *instanceSigner) inactivePage(ctx context.Context) ([]aliyun.Instance, error) {
	l, err := s.client.ListInstances(ctx, aliyun.InstanceQuery{Status: aliyun.InstanceInactive, CertificateType: "DV", CurrentPage: 1, ShowSize: instancePageSize})
	if err != nil {
		return nil, withContext(err, "listing the inactive CAS subscription instances")
	}
	return l.InstanceList, nil
}

// candidates are the instances the issuer may use: those of spec.instance.instanceIDs (each
// must exist and be alive), else every DV instance of the account.
func (s *instanceSigner) candidates(ctx context.Context, maxAge time.Duration) ([]aliyun.Instance, error) {
	ids := s.cfg.Instance.InstanceIDs
	if len(ids) == 0 {
		return s.listAll(ctx, maxAge)
	}
	var out []aliyun.Instance
	for _, id := range ids {
		d, err := s.detail(ctx, id)
		if err != nil {
			if p, ok := AsPermanent(err); ok && p.Reason == ReasonInstanceNotFound {
				return nil, Permanent(ReasonInstanceNotFound, "CAS instance %s of spec.instance.instanceIDs does not exist; nothing was submitted", id)
			}
			return nil, err
		}
		if deadStatus(d.Status) {
			return nil, Permanent(ReasonInstanceUnusable, "CAS instance %s of spec.instance.instanceIDs is %s and can take no application; nothing was submitted", id, d.Status)
		}
		out = append(out, *d)
	}
	return out, nil
}

// choose picks the request's instance: the one bound to its owner when there is one, else
// an inactive instance bound to nobody that holds the CSR's names. It returns a Pending
// when the request must wait for one; that answer, and its counts, come from a listing at
// most relistAge old.
func (s *instanceSigner) choose(ctx context.Context, req Request, csr *CheckedCSR) (*aliyun.Instance, *Pending, error) {
	inst, wait, err := s.chooseFrom(ctx, req, csr, listingTTL)
	if wait != nil && wait.Reason == ReasonNoUsableInstance && len(s.cfg.Instance.InstanceIDs) == 0 {
		return s.chooseFrom(ctx, req, csr, relistAge)
	}
	return inst, wait, err
}

func (s *instanceSigner) chooseFrom(ctx context.Context, req Request, csr *CheckedCSR, maxAge time.Duration) (*aliyun.Instance, *Pending, error) {
	all, err := s.candidates(ctx, maxAge)
	if err != nil {
		return nil, nil, err
	}
	// The inactive instances recently seen so: a fresh instance comes from those (nil: all).
	var pool map[string]bool
	if len(s.cfg.Instance.InstanceIDs) == 0 {
		if all, pool, err = s.account.listing.freshPool(ctx, s.now(), poolAge, s.inactivePage); err != nil {
			return nil, nil, err
		}
	}
	owner := req.Owner
	if owner == "" {
		owner = req.Name
	}
	bound := bindingName(owner)
	var mine, fresh []aliyun.Instance
	tooSmall := 0
	for _, inst := range all {
		if inst.CertificateType != "" && !strings.EqualFold(inst.CertificateType, "DV") {
			continue
		}
		switch {
		case inst.CertificateName == bound && !deadStatus(inst.Status):
			if inst.Status == aliyun.InstancePending {
				return nil, &Pending{Reason: ReasonInstanceBusy, RetryAfter: s.cfg.PollInterval,
					Message: fmt.Sprintf("CAS instance %s, bound to %s, has an application in flight that is not this request's; waiting for it to finish", inst.InstanceID, owner)}, nil
			}
			mine = append(mine, inst)
		case inst.Status == aliyun.InstanceInactive && (pool == nil || pool[inst.InstanceID]):
			// Never issued: free, whatever name an unfinished application left on it.
			if fits(inst, csr.Names) {
				fresh = append(fresh, inst)
			} else {
				tooSmall++
			}
		}
	}
	if len(mine) > 0 && !fits(mine[0], csr.Names) {
		// The Certificate's instance cannot hold its new names: a fresh one must.
		mine = nil
	}
	list := append(mine, fresh...)
	if len(list) == 0 && tooSmall > 0 {
		return nil, nil, Permanent(ReasonInstanceCapacity,
			"none of the %d usable CAS instances holds %s (wildcard or multi-name certificates need an instance with enough FullDomainCount/WildcardDomainCount); nothing was submitted", tooSmall, strings.Join(csr.Names, ", "))
	}
	ids := make([]string, 0, len(list))
	byID := map[string]aliyun.Instance{}
	for _, inst := range list {
		ids = append(ids, inst.InstanceID)
		byID[inst.InstanceID] = inst
	}
	taken := map[string]bool{}
	if req.InstanceTaken != nil {
		for _, id := range ids {
			t, err := req.InstanceTaken(ctx, id)
			if err != nil {
				return nil, nil, Transient(ReasonOrderLookup, 0, fmt.Errorf("looking up which CAS instances other requests hold: %w", err))
			}
			taken[id] = t
		}
	}
	id := s.instances.pick(ids, taken, owner)
	if id == "" {
		what := "the account has"
		if len(s.cfg.Instance.InstanceIDs) > 0 {
			what = "spec.instance.instanceIDs name"
		}
		return nil, &Pending{Reason: ReasonNoUsableInstance, RetryAfter: s.cfg.MaxPollInterval,
			Message: fmt.Sprintf("no usable CAS subscription instance for %s: %s %d DV instances (%s), %d of them inactive and free, %d held by other requests; waiting for one (buy a DV instance, or wait for other requests to finish)",
				strings.Join(csr.Names, ", "), what, len(all), statusCounts(all), len(fresh), len(ids))}, nil
	}
	inst := byID[id]
	return &inst, nil, nil
}

// contactIDs are the contacts named on applications: spec.instance.contactIDs, else the
// contact of Config.Contact found by e-mail, created when absent.
func (s *instanceSigner) contactIDs(ctx context.Context) ([]int64, error) {
	if ids := s.cfg.Instance.ContactIDs; len(ids) > 0 {
		return ids, nil
	}
	// One resolution at a time: concurrent requests would each create the contact.
	s.contactMu.Lock()
	defer s.contactMu.Unlock()
	if len(s.contacts) > 0 {
		return s.contacts, nil
	}
	c := s.cfg.Contact
	ids, err := s.findContact(ctx, c.Email)
	if err != nil {
		return nil, err
	}
	if ids == nil {
		// Not retried: a lost answer is found by the lookup above next time.
		id, err := s.client.CreateContact(ctx, c.Username, c.Email, c.Phone)
		switch e, ok := aliyun.AsError(err); {
		case err == nil:
			ids = []int64{id}
		case ok && strings.HasPrefix(e.Code, "AlreadyExists."):
			// Made meanwhile by another issuer of the account (the lock is per
			// issuer): CreateContact's documented AlreadyExists.%s (400).
			found, ferr := s.findContact(ctx, c.Email)
			if ferr != nil {
				return nil, ferr
			}
			if found == nil {
				return nil, Transient(ReasonInvalidContact, 0, fmt.Errorf("creating the CAS contact %s: %v, yet it is not listed", c.Email, err))
			}
			ids = found
		case ok && e.Class == aliyun.Permanent:
			return nil, Permanent(ReasonInvalidContact, "the account has no CAS contact for %s and spec.contact cannot be made one: %v; nothing was submitted", c.Email, err)
		default:
			return nil, withContext(err, "creating the CAS contact %s", c.Email)
		}
	}
	s.contacts = ids
	return ids, nil
}

// findContact is the id of the account's CAS contact with e-mail email, nil when there is none.
func (s *instanceSigner) findContact(ctx context.Context, email string) ([]int64, error) {
	l, err := s.client.ListContact(ctx, email)
	if err != nil {
		return nil, withContext(err, "looking up the CAS contact %s", email)
	}
	for _, ct := range l.ContactList {
		if strings.EqualFold(ct.Email, email) && ct.ContactID > 0 {
			return []int64{int64(ct.ContactID)}, nil
		}
	}
	return nil, nil
}
