package e2e_test

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	cmapi "github.com/cert-manager/cert-manager/pkg/apis/certmanager/v1"
	cmmeta "github.com/cert-manager/cert-manager/pkg/apis/meta/v1"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/e2e/framework"
)

// stableFor is how long every issued Certificate must stay Ready at the
// revision it was issued with: a re-issue loop shows within it.
const stableFor = 60 * time.Second

// stable remembers every Certificate issued in this run; TestMain checks,
// after all tests, that none was issued again.
var stable = &issuedSet{revisions: map[string]int{}}

type issuedSet struct {
	mu        sync.Mutex
	revisions map[string]int
	latest    time.Time
}

// add records a Certificate whose issuance finished (the revision is set:
// framework.WaitCertificateReady waits for it).
func (s *issuedSet) add(cert *cmapi.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revisions[cert.Namespace+"/"+cert.Name] = *cert.Status.Revision
	s.latest = time.Now()
}

// check holds, until stableFor after the last issuance (and at least once),
// that every recorded Certificate is still Ready at its recorded revision.
// With no Certificate issued (a -run that selects none) there is nothing to
// check.
func (s *issuedSet) check() error {
	s.mu.Lock()
	revisions := make(map[string]int, len(s.revisions))
	for k, v := range s.revisions {
		revisions[k] = v
	}
	hold := max(time.Until(s.latest.Add(stableFor)), 0)
	s.mu.Unlock()
	if len(revisions) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), hold+time.Minute)
	defer cancel()
	return framework.Consistently(ctx, hold, time.Second, func(ctx context.Context) (bool, string, error) {
		var list cmapi.CertificateList
		if err := f.Client.List(ctx, &list); err != nil {
			return false, "", err
		}
		found := map[string]*cmapi.Certificate{}
		for i := range list.Items {
			c := &list.Items[i]
			found[c.Namespace+"/"+c.Name] = c
		}
		var bad []string
		for key, rev := range revisions {
			cert := found[key]
			if cert == nil {
				bad = append(bad, key+" is gone")
				continue
			}
			if ready := framework.ReadyCondition(cert.Status.Conditions); ready == nil || ready.Status != cmmeta.ConditionTrue {
				bad = append(bad, fmt.Sprintf("%s no longer Ready: %+v", key, ready))
			}
			if cert.Status.Revision == nil {
				bad = append(bad, fmt.Sprintf("%s lost its revision, was %d", key, rev))
			} else if *cert.Status.Revision != rev {
				bad = append(bad, fmt.Sprintf("%s re-issued: revision %d, was %d", key, *cert.Status.Revision, rev))
			}
		}
		sort.Strings(bad)
		return len(bad) == 0, strings.Join(bad, "; "), nil
	})
}
