package signer

import "time"

// NewWithClock is New on the clock now, for tests that move time (the
// simulator's clock with it) instead of waiting.
func NewWithClock(cfg Config, now func() time.Time) (Signer, error) {
	sg, err := New(cfg)
	if err != nil {
		return nil, err
	}
	switch s := sg.(type) {
	case *csrSigner:
		s.now = now
	case *dvOrderSigner:
		s.now = now
	case *instanceSigner:
		s.now = now
	}
	return sg, nil
}
