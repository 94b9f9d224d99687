package bench

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/rest"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// tracker watches Certificates and notes, at the moment the watch event
// arrives, when each becomes Ready: client-side timestamps, finer than the
// API's one-second creationTimestamp and lastTransitionTime.
type tracker struct {
	mu      sync.Mutex
	batches map[string]*batch // by namespace
}

// batch is the Certificates of one namespace that one measurement waits for.
type batch struct {
	ns      string
	want    int
	created map[string]time.Time
	ready   map[string]time.Time
	done    chan struct{}
}

func startTracker(ctx context.Context, cfg *rest.Config, scheme *runtime.Scheme) (*tracker, error) {
	c, err := cache.New(cfg, cache.Options{Scheme: scheme})
	if err != nil {
		return nil, err
	}
	inf, err := c.GetInformer(ctx, &cmapi.Certificate{})
	if err != nil {
		return nil, err
	}
	t := &tracker{batches: map[string]*batch{}}
	if _, err := inf.AddEventHandler(toolscache.ResourceEventHandlerFuncs{
		AddFunc:    t.observe,
		UpdateFunc: func(_, obj any) { t.observe(obj) },
	}); err != nil {
		return nil, err
	}
	go func() { _ = c.Start(ctx) }()
	if !c.WaitForCacheSync(ctx) {
		return nil, fmt.Errorf("the Certificate watch did not sync")
	}
	return t, nil
}

// isReady reports Ready=True for the Certificate's current generation.
func isReady(c *cmapi.Certificate) bool {
	for _, cond := range c.Status.Conditions {
		if cond.Type == cmapi.CertificateConditionReady {
			return cond.Status == cmmeta.ConditionTrue && cond.ObservedGeneration == c.Generation
		}
	}
	return false
}

func (t *tracker) observe(obj any) {
	now := time.Now()
	c, ok := obj.(*cmapi.Certificate)
	if !ok || !isReady(c) {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	b := t.batches[c.Namespace]
	if b == nil {
		return
	}
	if _, seen := b.ready[c.Name]; seen {
		return
	}
	if _, ours := b.created[c.Name]; !ours {
		return
	}
	b.ready[c.Name] = now
	if len(b.ready) == b.want {
		close(b.done)
	}
}

// newBatch starts tracking n Certificates in namespace ns.
func (t *tracker) newBatch(ns string, n int) *batch {
	b := &batch{ns: ns, want: n, created: map[string]time.Time{}, ready: map[string]time.Time{}, done: make(chan struct{})}
	t.mu.Lock()
	t.batches[ns] = b
	t.mu.Unlock()
	return b
}

// created notes that the Certificate name is about to be created.
func (t *tracker) created(b *batch, name string, at time.Time) {
	t.mu.Lock()
	b.created[name] = at
	t.mu.Unlock()
}

// forget stops tracking a batch.
func (t *tracker) forget(b *batch) {
	t.mu.Lock()
	delete(t.batches, b.ns)
	t.mu.Unlock()
}

// BatchResult is a finished batch: wall time from the first create to the
// last Ready, and every Certificate's created-to-Ready latency.
type BatchResult struct {
	Start, End time.Time
	Latencies  []float64 // seconds, sorted
	// Ready is when each Certificate (by name) became Ready.
	Ready map[string]time.Time
}

// Wall is the batch's wall time in seconds.
func (r BatchResult) Wall() float64 { return r.End.Sub(r.Start).Seconds() }

// wait waits until every Certificate of the batch is Ready, or the bound
// passes: then it fails, naming some of those that are not Ready and why.
func (t *tracker) wait(ctx context.Context, c client.Client, b *batch, bound time.Duration) (BatchResult, error) {
	ctx, cancel := context.WithTimeout(ctx, bound)
	defer cancel()
	select {
	case <-b.done:
	case <-ctx.Done():
		return BatchResult{}, t.notReady(c, b, bound)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	r := BatchResult{Ready: map[string]time.Time{}}
	for name, created := range b.created {
		ready := b.ready[name]
		r.Ready[name] = ready
		if r.Start.IsZero() || created.Before(r.Start) {
			r.Start = created
		}
		if ready.After(r.End) {
			r.End = ready
		}
		r.Latencies = append(r.Latencies, ready.Sub(created).Seconds())
	}
	slices.Sort(r.Latencies)
	return r, nil
}

func (t *tracker) notReady(c client.Client, b *batch, bound time.Duration) error {
	t.mu.Lock()
	var missing []string
	for name := range b.created {
		if _, ok := b.ready[name]; !ok {
			missing = append(missing, name)
		}
	}
	t.mu.Unlock()
	slices.Sort(missing)
	var why []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, name := range missing[:min(len(missing), 5)] {
		var cert cmapi.Certificate
		msg := "not found"
		if err := c.Get(ctx, client.ObjectKey{Namespace: b.ns, Name: name}, &cert); err == nil {
			msg = "no Ready condition"
			for _, cond := range cert.Status.Conditions {
				if cond.Type == cmapi.CertificateConditionReady {
					msg = fmt.Sprintf("Ready=%s %s: %s", cond.Status, cond.Reason, cond.Message)
				}
			}
		}
		why = append(why, fmt.Sprintf("%s/%s: %s", b.ns, name, msg))
	}
	return fmt.Errorf("%d of %d Certificates in %s not Ready within %s:\n  %s",
		len(missing), b.want, b.ns, bound, strings.Join(why, "\n  "))
}
