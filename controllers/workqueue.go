package controllers

import (
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/controller"
)

// controllerOptions is what every controller of the issuer is built with.
//
// The work queue is client-go's rate-limited queue, not controller-runtime's
// priority queue (the default since v0.22): in the controller-runtime this
// module builds with (v0.24), a priority queue shut down while a worker
// waits on it can deadlock (kubernetes-sigs/controller-runtime#3538, fixed
// in v0.25, which needs Kubernetes 1.37 libraries): the manager then never
// stops within its grace period, and a leader that is told to stop keeps
// its lease until it is killed. The priority queue only reorders the
// initial listing behind new events; the issuer's controllers act on few
// objects at a time, so nothing they do depends on it.
func controllerOptions(workers int) controller.Options {
	return controller.Options{MaxConcurrentReconciles: workers, UsePriorityQueue: ptr.To(false)}
}
