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
	defer l.mu.Unlock()
	err := l.share(ctx, &l.walk, now, func() bool { return l.known && now.Sub(l.at) <= maxAge }, func(ctx context.Context) (func(time.Time), error) {
		all, err := walk(ctx)
		if err != nil {
			return nil, err
		}
		return func(at time.Time) {
			l.ids, l.byID = make([]string, 0, len(all)), make(map[string]aliyun.Instance, len(all))
			for _, inst := range all {
				l.ids = append(l.ids, inst.InstanceID)
				l.byID[inst.InstanceID] = inst
			}
			l.at, l.known = at, true
		}, nil
	})
	if err != nil {
		return nil, err
	}
	return l.snapshot(), nil
}

// freshPool is the listing and the instances among it that were inactive at most maxAge ago:
// nil when the whole listing is that recent, else the ids of the first page of inactive
// instances, fetched with fetch when the latest is older (callers meanwhile share it). The
// fetched entries replace the listed ones.
func (l *instanceListing) freshPool(ctx context.Context, now time.Time, maxAge time.Duration, fetch func(context.Context) ([]aliyun.Instance, error)) ([]aliyun.Instance, map[string]bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	walked := func() bool { return l.known && now.Sub(l.at) <= maxAge }
	err := l.share(ctx, &l.poolWalk, now, func() bool { return walked() || l.pool != nil && now.Sub(l.poolAt) <= maxAge }, func(ctx context.Context) (func(time.Time), error) {
		page, err := fetch(ctx)
		if err != nil {
			return nil, err
		}
		return func(at time.Time) {
			pool := make(map[string]bool, len(page))
			for _, inst := range page {
				if _, ok := l.byID[inst.InstanceID]; !ok {
					l.ids = append(l.ids, inst.InstanceID) // bought since the walk
				}
				l.byID[inst.InstanceID] = inst
				pool[inst.InstanceID] = true
			}
			l.pool, l.poolAt = pool, at
		}, nil
	})
	switch {
	case err != nil:
		return nil, nil, err
	case walked():
		return l.snapshot(), nil, nil
	}
	return l.snapshot(), l.pool, nil
}

// share returns once ready holds, running fetch (without l.mu) when it does not and no other
// caller is running it for slot; callers meanwhile wait for that one and share its result.
// fetch's answer is applied under l.mu with the time the fetch started. The caller holds l.mu.
func (l *instanceListing) share(ctx context.Context, slot **listingWalk, now time.Time, ready func() bool, fetch func(context.Context) (func(time.Time), error)) error {
	for !ready() {
		if w := *slot; w != nil {
			l.mu.Unlock()
			select {
			case <-w.done:
			case <-ctx.Done():
			}
			l.mu.Lock()
			if err := ctx.Err(); err != nil {
				return err
			}
			if w.err != nil {
				return w.err
			}
			continue // ready now, or that fetch started too long ago
		}
		w := &listingWalk{done: make(chan struct{}), started: now}
		*slot = w
		l.mu.Unlock()
		apply, err := fetch(ctx)
		l.mu.Lock()
		if err == nil {
			apply(w.started)
		}
		w.err = err
		*slot = nil
		close(w.done)
		return err
	}
	return nil
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
