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
// UpdateInstance and ApplyCertificate). What stays stale is what other processes do to the
// account's instances; a stale entry only costs a retry: an instance that became busy shows
// another application on the re-read, or refuses ApplyCertificate, and another one is chosen.

const (
	// listingTTL is how long a walk is reused to choose instances.
	listingTTL = 2 * time.Minute
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
