package e2e_test

// This file sorts last, so its test runs after every other scenario.

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// stable remembers every Certificate issued in this run so that the last
// test can check none was issued again (no re-issue loop).
var stable = &issuedSet{revisions: map[string]int{}, since: map[string]time.Time{}}

type issuedSet struct {
	mu        sync.Mutex
	revisions map[string]int
	since     map[string]time.Time
}

func (s *issuedSet) add(ns, name string) {
	var cert cmapi.Certificate
	if err := f.Client.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, &cert); err != nil || cert.Status.Revision == nil {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	key := ns + "/" + name
	s.revisions[key] = *cert.Status.Revision
	s.since[key] = time.Now()
}

// TestNoReissueLoop runs last: every Certificate issued above is still
// Ready at the same revision at least 60 s after it was issued.
func TestNoReissueLoop(t *testing.T) {
	stable.mu.Lock()
	defer stable.mu.Unlock()
	if len(stable.revisions) == 0 {
		t.Fatal("no Certificate was issued in this run")
	}
	var latest time.Time
	for _, at := range stable.since {
		if at.After(latest) {
			latest = at
		}
	}
	if wait := time.Until(latest.Add(60 * time.Second)); wait > 0 {
		time.Sleep(wait)
	}
	ctx := testCtx(t, 30*time.Second)
	for key, rev := range stable.revisions {
		ns, name, _ := strings.Cut(key, "/")
		var cert cmapi.Certificate
		if err := f.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &cert); err != nil {
			t.Errorf("%s: %v", key, err)
			continue
		}
		ready := framework.ReadyCondition(cert.Status.Conditions)
		if ready == nil || ready.Status != cmmeta.ConditionTrue {
			t.Errorf("%s no longer Ready: %+v", key, ready)
		}
		if cert.Status.Revision == nil || *cert.Status.Revision != rev {
			t.Errorf("%s re-issued: revision %v, was %d", key, cert.Status.Revision, rev)
		}
	}
}
