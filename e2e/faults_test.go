package e2e_test

import (
	"fmt"
	"testing"
	"time"
)

// faultSeed fixes which calls fail: the same sequence of calls meets the
// same faults in every run.
const faultSeed = 19

// TestMultiNameUnderFaults: multi-name Certificates issued while 35 % of
// the simulator's signed calls fail or hang (half of those after the
// action took effect: an order placed whose answer is lost) end, through
// cert-manager's controllers, at their first revision with exactly one
// order each.
func TestMultiNameUnderFaults(t *testing.T) {
	ctx := testCtx(t, 8*time.Minute)
	ns := namespace(t, ctx)
	ref := namespacedIssuer(t, ctx, ns, "faulty", multiProduct)
	// Names of this run only: every run (-count) shares the simulator.
	run := namespaces.Load()
	certs := map[string][]string{}
	for i := range 3 {
		name := fmt.Sprintf("multi-%d", i)
		for _, label := range []string{"www", "api", "static"} {
			certs[name] = append(certs[name], fmt.Sprintf("%s-f%d-%d.example.com", label, run, i))
		}
	}

	before := f.Sim.State()
	f.Sim.SetFaults(0.35, faultSeed, 2*time.Second)
	t.Cleanup(func() { f.Sim.SetFaults(0, 0, 0) })
	for name, names := range certs {
		certificate(t, ctx, ns, name, ref, names...)
	}
	for name := range certs {
		cert, _ := issued(t, ctx, ns, name)
		if *cert.Status.Revision != 1 {
			t.Errorf("%s at revision %d, want 1: it was issued more than once", name, *cert.Status.Revision)
		}
	}
	f.Sim.SetFaults(0, 0, 0)

	after := f.Sim.State()
	if after.Faults == before.Faults {
		t.Fatalf("no fault was injected")
	}
	calls := map[string]int{}
	for a, n := range after.Calls {
		if d := n - before.Calls[a]; d > 0 {
			calls[a] = d
		}
	}
	t.Logf("faults injected: %d; calls %v", after.Faults-before.Faults, calls)
	for name, names := range certs {
		// An order counts for each of its names.
		for _, n := range names {
			if placed := after.Placed[n] - before.Placed[n]; placed != 1 {
				t.Errorf("%s: %d orders for %s, want exactly 1", name, placed, n)
			}
		}
	}
}
