package signer

import (
	"context"
	"sync"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The account's V2.0 instances as this process knows them. A walk through ListInstances costs
// a call per 100 instances, so it is shared: one walk per account serves every issuer of the
// account and every request signed meanwhile (concurrent callers wait for the walk under
// way instead of starting their own), and between walks the listing is kept current with
// what the requests learn (every GetInstanceDetail answer, and each request's own
// UpdateInstance and ApplyCertificate). What stays stale is what other processes (another
// cluster on the account, the console) do to the account's instances. So a fresh instance is
// only ever chosen from a view at most poolAge old: the first page of ListInstances filtered
// by Status=inactive (one call, the documented filter), fetched again when older, once for all
// callers. Whatever else is stale only costs a retry: an instance that became busy shows
// another application on the re-read, or refuses ApplyCertificate, and another one is chosen.

const (
	// listingTTL is how long a walk is reused: for the instances bound to Certificates
	// (which only their own Certificate's requests use) and the counts.
	listingTTL = 10 * time.Minute
	// poolAge is how old the view of the inactive instances may be to choose one.
	poolAge = 10 * time.Second
	// relistAge is how old a listing may be for a request that found no usable instance
	// in it: younger than this it is fresh enough to say so (and to count from).
	relistAge = 10 * time.Second
)

type instanceListing struct {
	mu    sync.Mutex
	ids   []string // in ListInstances order
	byID  map[string]aliyun.Instance
	at    time.Time // when the latest complete walk started
	known bool
	walk  *listingWalk // the walk under way

	pool     map[string]bool // the inactive instances of the latest pool page
	poolAt   time.Time
	poolWalk *listingWalk
}

type listingWalk struct {
	done    chan struct{}
	started time.Time
	err     error
}

// get is the listing, walked with walk unless a walk that started at most maxAge before now
// is known; callers arriving during a walk share its result.
func (l *instanceListing) get(ctx context.Context, now time.Time, maxAge time.Duration, walk func(context.Context) ([]aliyun.Instance, error)) ([]aliyun.Instance, error) {
	l.mu.Lock()
	for {
		if l.known && now.Sub(l.at) <= maxAge {
			out := l.snapshot()
			l.mu.Unlock()
			return out, nil
		}
		w := l.walk
		if w == nil {
			break
		}
		l.mu.Unlock()
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if w.err != nil {
			return nil, w.err
		}
		l.mu.Lock()
		if w.started.Before(now.Add(-maxAge)) {
			// A walk older than the caller wants, started before it asked: one more.
			continue
		}
		out := l.snapshot()
		l.mu.Unlock()
		return out, nil
	}
	w := &listingWalk{done: make(chan struct{}), started: now}
	l.walk = w
	l.mu.Unlock()

	all, err := walk(ctx)
	l.mu.Lock()
	w.err = err
	if err == nil {
		l.ids, l.byID = make([]string, 0, len(all)), make(map[string]aliyun.Instance, len(all))
		for _, inst := range all {
			l.ids = append(l.ids, inst.InstanceID)
			l.byID[inst.InstanceID] = inst
		}
		l.at, l.known = w.started, true
	}
	l.walk = nil
	out := l.snapshot()
	l.mu.Unlock()
	close(w.done)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// freshPool is the listing and the instances among it that were inactive at most maxAge ago:
// nil when the whole listing is that recent, else the ids of the first page of inactive
// instances, fetched with fetch when the latest is older (callers meanwhile share it). The
// fetched entries replace the listed ones.
func (l *instanceListing) freshPool(ctx context.Context, now time.Time, maxAge time.Duration, fetch func(context.Context) ([]aliyun.Instance, error)) ([]aliyun.Instance, map[string]bool, error) {
	l.mu.Lock()
	for {
		if now.Sub(l.at) <= maxAge {
			out := l.snapshot()
			l.mu.Unlock()
			return out, nil, nil
		}
		if l.pool != nil && now.Sub(l.poolAt) <= maxAge {
			out, pool := l.snapshot(), l.pool
			l.mu.Unlock()
			return out, pool, nil
		}
		w := l.poolWalk
		if w == nil {
			break
		}
		l.mu.Unlock()
		select {
		case <-w.done:
		case <-ctx.Done():
			return nil, nil, ctx.Err()
		}
		if w.err != nil {
			return nil, nil, w.err
		}
		l.mu.Lock()
		if w.started.Before(now.Add(-maxAge)) {
			continue
		}
		out, pool := l.snapshot(), l.pool
		l.mu.Unlock()
		return out, pool, nil
	}
	w := &listingWalk{done: make(chan struct{}), started: now}
	l.poolWalk = w
	l.mu.Unlock()

	page, err := fetch(ctx)
	l.mu.Lock()
	w.err = err
	if err == nil {
		pool := make(map[string]bool, len(page))
		for _, inst := range page {
			if _, ok := l.byID[inst.InstanceID]; !ok {
				l.ids = append(l.ids, inst.InstanceID) // bought since the walk
			}
			l.byID[inst.InstanceID] = inst
			pool[inst.InstanceID] = true
		}
		l.pool, l.poolAt = pool, w.started
	}
	l.poolWalk = nil
	out, pool := l.snapshot(), l.pool
	l.mu.Unlock()
	close(w.done)
	if err != nil {
		return nil, nil, err
	}
	return out, pool, nil
}

// snapshot copies the listing; the caller holds l.mu.
func (l *instanceListing) snapshot() []aliyun.Instance {
	out := make([]aliyun.Instance, 0, len(l.ids))
	for _, id := range l.ids {
		out = append(out, l.byID[id])
	}
	return out
}

// learn replaces a listed instance with a fresher view of it (a GetInstanceDetail answer).
func (l *instanceListing) learn(d *aliyun.Instance) {
	l.change(d.InstanceID, func(inst *aliyun.Instance) {
		typ := inst.CertificateType
		*inst = *d
		inst.DomainValidationList = nil // not part of a listing
		if inst.CertificateType == "" {
			inst.CertificateType = typ
		}
	})
}

// change edits a listed instance (nothing when it is not listed: the next walk shows it).
func (l *instanceListing) change(id string, edit func(*aliyun.Instance)) {
	l.mu.Lock()
	defer l.mu.Unlock()
	inst, ok := l.byID[id]
	if !ok {
		return
	}
	edit(&inst)
	l.byID[id] = inst
}
