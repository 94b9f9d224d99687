package controllers

import "testing"

// TestControllersUseTheRateLimitedQueue: the controllers are built without
// the priority queue, whose shutdown can deadlock (workqueue.go).
func TestControllersUseTheRateLimitedQueue(t *testing.T) {
	for _, workers := range []int{1, 4} {
		o := controllerOptions(workers)
		if o.UsePriorityQueue == nil || *o.UsePriorityQueue {
			t.Errorf("controllerOptions(%d) leaves the priority queue on", workers)
		}
		if o.MaxConcurrentReconciles != workers {
			t.Errorf("controllerOptions(%d): %d workers", workers, o.MaxConcurrentReconciles)
		}
	}
}
