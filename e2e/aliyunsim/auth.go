package aliyunsim

import "time"

// Authentication as Alibaba's gateway does it, for both signature schemes: the request must
// be fresh (±15 minutes), signed with a known AccessKey pair (or a live STS credential with
// its SecurityToken), and carry a nonce not seen in the last 15 minutes.

const (
	maxSkew = 15 * time.Minute
	// nonceWindow: Alibaba does not publish how long nonces are remembered (unverified);
	// matching the timestamp window means a replay is refused for as long as it is fresh.
	nonceWindow = 15 * time.Minute
)

// authenticate checks c; the caller holds s.mu.
func (s *Simulator) authenticate(c *call) *apiError {
	if c.accessKeyID == "" {
		return errMissing("AccessKeyId")
	}
	if c.timestamp == "" {
		if c.scheme == sigV3 {
			return errMissing("x-acs-date")
		}
		return errMissing("Timestamp")
	}
	if c.nonce == "" {
		if c.scheme == sigV3 {
			return errMissing("x-acs-signature-nonce")
		}
		return errMissing("SignatureNonce")
	}
	ts, ok := parseTimestamp(c.timestamp)
	if !ok {
		return errTimestampFmt
	}
	now := s.now()
	if d := now.Sub(ts); d > maxSkew || d < -maxSkew {
		return errTimestampOld
	}

	secret, sts := s.lookupKey(c.accessKeyID)
	if secret == "" {
		return errKeyNotFound
	}
	var e *apiError
	if c.scheme == sigV3 {
		e = verifyV3(c, "/", secret)
	} else {
		e = verifyV1(c, secret)
	}
	if e != nil {
		return e
	}
	if e := s.checkToken(c, sts, now); e != nil {
		return e
	}

	// Only a request that proved its key spends its nonce, so a forged request cannot block
	// a legitimate one.
	key := c.accessKeyID + "\x00" + c.nonce
	if used, ok := s.st.nonces[key]; ok && now.Sub(used) < nonceWindow {
		return errNonceUsed
	}
	s.st.nonces[key] = now
	s.sweepNonces(now)
	return nil
}

// lookupKey finds the secret of a permanent or temporary AccessKeyId.
func (s *Simulator) lookupKey(id string) (secret string, sts *stsCred) {
	if secret, ok := s.cfg.AccessKeys[id]; ok {
		return secret, nil
	}
	if cred, ok := s.st.stsKeys[id]; ok {
		return cred.secret, cred
	}
	return "", nil
}

// checkToken enforces the SecurityToken rules: an STS key needs its own, live token; a
// permanent key must not present one.
func (s *Simulator) checkToken(c *call, sts *stsCred, now time.Time) *apiError {
	if sts == nil {
		if c.securityToken == "" {
			return nil
		}
		if _, known := s.st.stsTokens[c.securityToken]; known {
			return errTokenMismatch
		}
		return errTokenMalformed
	}
	switch {
	case c.securityToken == "":
		return errTokenMalformed
	case c.securityToken != sts.token:
		if _, known := s.st.stsTokens[c.securityToken]; known {
			return errTokenMismatch
		}
		return errTokenMalformed
	case !now.Before(sts.expires):
		return errTokenExpired
	}
	return nil
}

// sweepNonces forgets nonces older than the window, at most once a minute.
func (s *Simulator) sweepNonces(now time.Time) {
	if now.Sub(s.st.nonceSweep) < time.Minute {
		return
	}
	s.st.nonceSweep = now
	for k, t := range s.st.nonces {
		if now.Sub(t) >= nonceWindow {
			delete(s.st.nonces, k)
		}
	}
}
