package e2e_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// TestLeaderElection: two replicas with leader election share one control
// plane. Only the leader talks to Alibaba Cloud; when it is killed in the
// middle of an order, the other takes over and finishes it without a
// second order.
func TestLeaderElection(t *testing.T) {
	ctx := testCtx(t, 3*time.Minute)
	ns := namespace(t, ctx)
	ref := clusterIssuer(t, ctx, "aliyun-cas", freeProduct)

	// The suite's single replica steps aside for the pair.
	if err := f.Issuer.Stop(15 * time.Second); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := f.StartIssuer(context.Background()); err != nil {
			t.Fatalf("restoring the suite's issuer: %v", err)
		}
	}()
	// The lease lives where the chart's RBAC allows it: the controller's
	// own namespace.
	elect := []string{"--leader-elect", "--leader-election-namespace=" + framework.ChartNamespace}
	a, err := f.LaunchIssuer(ctx, elect...)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Kill()
	b, err := f.LaunchIssuer(ctx, elect...)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Kill()

	var leader, follower *framework.IssuerProcess
	err = framework.Poll(ctx, 200*time.Millisecond, func(context.Context) (bool, string, error) {
		la, lb := acquired(a), acquired(b)
		switch {
		case la && lb:
			return false, "", errors.New("both replicas say they lead")
		case la:
			leader, follower = a, b
		case lb:
			leader, follower = b, a
		}
		return leader != nil, "no replica has the lease yet", nil
	})
	if err != nil {
		t.Fatal(err)
	}

	f.Sim.SetDelays(8*time.Second, 0)
	defer f.Sim.SetDelays(0, 0)
	const domain = "leader.example.com"
	orders := ordersFromNow()
	certificate(t, ctx, ns, "leader", ref, domain)
	err = framework.Poll(ctx, 100*time.Millisecond, func(context.Context) (bool, string, error) {
		return orders.count(domain) > 0, "no order yet", nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// The order is pending at the CA for a while: all that time the leader
	// polls it and the follower stays silent.
	err = framework.Consistently(ctx, 2*time.Second, 200*time.Millisecond, func(context.Context) (bool, string, error) {
		fm, err := framework.ScrapeMetrics(follower.MetricsAddr)
		if err != nil {
			return false, "", err
		}
		n := fm.Sum("aliyun_cas_issuer_api_calls_total")
		return n == 0, fmt.Sprintf("the follower made %v Alibaba Cloud calls while not leading", n), nil
	})
	if err != nil {
		t.Fatal(err)
	}

	leader.Kill()
	issued(t, ctx, ns, "leader")
	if n := orders.count(domain); n != 1 {
		t.Fatalf("orders for %s across the fail-over: %d, want 1", domain, n)
	}
	if !acquired(follower) {
		t.Fatal("the certificate was issued but the follower never took the lease")
	}
	// The new leader answered from the existing order (the simulator has
	// one); other Certificates of the suite may be renewed meanwhile, so
	// only a lower bound on what it issued holds here.
	// The issuer counts right after its status write: wait for it.
	err = framework.Poll(ctx, 100*time.Millisecond, func(context.Context) (bool, string, error) {
		fm, err := framework.ScrapeMetrics(follower.MetricsAddr)
		if err != nil {
			return false, err.Error(), nil
		}
		return fm.Sum("aliyun_cas_issuer_orders_issued_total") >= 1, "the new leader reports no issued certificate", nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// acquired reports whether a replica logged taking the leader lease.
func acquired(p *framework.IssuerProcess) bool {
	return strings.Contains(strings.ToLower(p.Output()), "successfully acquired lease")
}
