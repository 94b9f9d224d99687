package signer

import (
	"context"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/aliyun-cas-issuer/aliyun-cas-issuer/signer/aliyun"
)

// The issued DV order: its certificate is for the request's key (an
// adopted key) or hands the server-generated key over for adoption.

// issued returns the chain when it is for the request's key, else hands
// the server-generated key over for adoption.
func (s *dvOrderSigner) issued(ctx context.Context, req Request, csr *CheckedCSR, st OrderState, r *aliyun.DVOrderResult) (Outcome, error) {
	certPEM, keyPEM := r.Certificate, r.PrivateKey
	if strings.TrimSpace(certPEM) == "" || strings.TrimSpace(keyPEM) == "" {
		c, k, err := s.recoverIssued(ctx, csr)
		if err != nil {
			return Outcome{}, err
		}
		if strings.TrimSpace(certPEM) == "" {
			certPEM = c
		}
		if strings.TrimSpace(keyPEM) == "" {
			keyPEM = k
		}
	}
	chain, err := ParseChain([]byte(certPEM))
	if err != nil {
		// The instance is spent: failing would make cert-manager order on
		// another one. An odd answer is looked at again instead.
		return Outcome{}, Transient(ReasonBadChain, s.cfg.MaxPollInterval,
			fmt.Errorf("the DV order on CAS instance %s is issued but its certificate is unusable (%v); looking again", st.InstanceID, err))
	}
	leaf := chain.Leaf
	if err := checkLeafNames(leaf, csr, dvOrderName(st.InstanceID)); err != nil {
		return Outcome{}, err
	}
	if samePublicKey(leaf.PublicKey, csr.CSR.PublicKey) {
		return s.issuedOutcome(ctx, req, chain, dvOrderName(st.InstanceID)), nil
	}
	if req.AdoptedInstanceID != "" && req.AdoptedInstanceID == st.InstanceID {
		// Built from the key adopted for this instance, yet the certificate
		// is for another key: adopting again cannot help.
		return Outcome{}, Permanent(ReasonAdoptedKeyMismatch,
			"the next private key Secret %s records CAS instance %s, but its key is not the key of that instance's certificate; no new order is placed", req.NextPrivateKeySecret, st.InstanceID)
	}
	key, err := parseServerKey(keyPEM)
	if err != nil {
		return Outcome{}, Permanent(ReasonBadChain, "the DV order on CAS instance %s is issued but its private key is unusable: %v", st.InstanceID, err)
	}
	if !samePublicKey(leaf.PublicKey, key.Public()) {
		return Outcome{}, Permanent(ReasonKeyMismatch, "the private key CAS returned for instance %s is not the key of its certificate", st.InstanceID)
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return Outcome{}, Permanent(ReasonBadChain, "encoding the private key of CAS instance %s: %v", st.InstanceID, err)
	}
	return Outcome{
		Kind:        OutcomeAdoptKey,
		Certificate: &Certificate{Leaf: leaf, Order: dvOrderName(st.InstanceID)},
		AdoptKey:    &AdoptKey{KeyPEM: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), InstanceID: st.InstanceID},
	}, nil
}

// recoverIssued finds the certificate (and key) of an issued order among
// the account's stored certificates when DescribeDVOrderResult leaves them
// out: the newest one for exactly the request's names.
func (s *dvOrderSigner) recoverIssued(ctx context.Context, csr *CheckedCSR) (string, string, error) {
	want := nameSet(csr.Names)
	var best *aliyun.UserCertificate
	for page := 1; page <= maxListPages; page++ {
		l, err := s.client.DescribeUserCertificateList(ctx, page, listPageSize)
		if err != nil {
			return "", "", withContext(err, "looking for the issued certificate of %s among the stored certificates", csr.MainDomain)
		}
		for i := range l.CertificateList {
			c := l.CertificateList[i]
			names := []string{c.Common}
			for n := range strings.SplitSeq(c.Sans, ",") {
				if n = strings.TrimSpace(n); n != "" {
					names = append(names, n)
				}
			}
			if bool(c.Expired) || !sameNames(names, want) {
				continue
			}
			if best == nil || c.StartDate > best.StartDate {
				best = &c
			}
		}
		if len(l.CertificateList) == 0 || page*listPageSize >= int(l.TotalCount) {
			break
		}
	}
	if best == nil {
		return "", "", Transient(ReasonUnknownOrderState, s.cfg.PollInterval,
			fmt.Errorf("the DV order for %s is issued but CAS returned no certificate and none is stored yet; looking again later", csr.MainDomain))
	}
	d, err := s.client.DescribeUserCertificateDetail(ctx, string(best.ID))
	if err != nil {
		return "", "", withContext(err, "reading stored certificate %s", best.ID)
	}
	return d.Cert, d.Key, nil
}
