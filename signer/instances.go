package signer

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// Instance selection for the flows that order on purchased certificate
// instances (one instance, one certificate): which instances are usable,
// and which one a request gets. Two requests never get the same instance:
// the controller reports the instances other requests hold
// (Request.InstanceTaken), and instancePicker covers requests of this
// process whose state is not visible to others yet.

// instancePicker remembers the instances this process handed to a request
// (instance id -> request name), so that two requests signed at the same
// time never pick the same instance even before their state is visible.
type instancePicker struct {
	mu       sync.Mutex
	reserved map[string]string
}

func newInstancePicker() *instancePicker {
	return &instancePicker{reserved: map[string]string{}}
}

// pick reserves and returns the first candidate no other request holds.
func (s *instancePicker) pick(candidates []string, taken map[string]bool, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range candidates {
		if taken[id] {
			continue
		}
		if holder, ok := s.reserved[id]; ok && holder != name {
			continue
		}
		s.reserved[id] = name
		return id
	}
	return ""
}

func (s *instancePicker) reserve(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.reserved[id]; !ok {
		s.reserved[id] = name
	}
}

func (s *instancePicker) unreserve(id, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reserved[id] == name {
		delete(s.reserved, id)
	}
}

// forget drops a reservation on which nothing was ordered.
func (s *instancePicker) forget(id string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.reserved, id)
}

func (s *dvOrderSigner) noInstanceMessage(usable int) string {
	what := "purchased DV certificate instances"
	if len(s.cfg.DVOrder.InstanceIDs) > 0 {
		what = "instances of spec.dvOrder.instanceIDs"
	}
	if usable == 0 {
		return fmt.Sprintf("no usable DV instance: all %s are used; waiting for one (buy more DV instances)", what)
	}
	return fmt.Sprintf("no usable DV instance: the %d unused %s are all held by other requests; waiting for one (buy more DV instances, or wait for the other requests to finish)", usable, what)
}

// usableInstances lists the purchased DV instances without an order, in
// the order CAS lists them (or as configured), walking every page.
func (s *dvOrderSigner) usableInstances(ctx context.Context) ([]string, error) {
	all, err := s.listInstances(ctx)
	if err != nil {
		return nil, withContext(err, "listing the purchased certificate instances")
	}
	usable := map[string]bool{}
	var ids []string
	for _, o := range all {
		if usableInstance(o) {
			usable[o.InstanceID] = true
			ids = append(ids, o.InstanceID)
		}
	}
	if len(s.cfg.DVOrder.InstanceIDs) == 0 {
		return ids, nil
	}
	var out []string
	for _, id := range s.cfg.DVOrder.InstanceIDs {
		if usable[id] {
			out = append(out, id)
		}
	}
	return out, nil
}

func usableInstance(o aliyun.OrderInstance) bool {
	if o.InstanceID == "" {
		return false
	}
	if o.CertType != "" && !strings.EqualFold(o.CertType, "DV") && !strings.EqualFold(o.CertType, "FREE") {
		return false
	}
	return strings.EqualFold(o.Status, "PAYED") || strings.EqualFold(o.Status, "Paid")
}

// listInstances walks DescribeOrderInstanceList page by page (StartIndex
// 1, 2, ...) until TotalCount instances are seen, a page is empty, or a
// page brings nothing new.
func (s *dvOrderSigner) listInstances(ctx context.Context) ([]aliyun.OrderInstance, error) {
	seen := map[string]bool{}
	var all []aliyun.OrderInstance
	for page := 1; page <= maxInstancePages; page++ {
		l, err := s.client.DescribeOrderInstanceList(ctx, page)
		if err != nil {
			return nil, err
		}
		fresh := 0
		for _, o := range l.OrderList {
			if o.InstanceID == "" || seen[o.InstanceID] {
				continue
			}
			seen[o.InstanceID] = true
			all = append(all, o)
			fresh++
		}
		if fresh == 0 || len(all) >= int(l.TotalCount) {
			break
		}
	}
	return all, nil
}
