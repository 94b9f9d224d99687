package aliyunsim

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"strconv"
	"strings"
)

// The certificates of V2.0 instances: listing, revocation and download.

func revokeCertificate(s *Simulator, c *call) (obj, *apiError) {
	inst, e := s.findV2Instance(c, "InstanceId")
	if e != nil {
		return nil, e
	}
	id, e := c.intParam("CertificateId", inst.certID, 1, 1<<62)
	if e != nil {
		return nil, e
	}
	uc := s.st.certs[id]
	if id == 0 || uc == nil || uc.instance != inst.id {
		return nil, errStatusNotSupport(inst, "without that certificate")
	}
	if _, done := inst.revoked[id]; done {
		return nil, errStatusNotSupport(inst, "revoked")
	}
	inst.revoked[id] = s.now()
	return obj{}, nil
}

func listCertificates(s *Simulator, c *call) (obj, *apiError) {
	status, e := c.enumParam("CertificateStatus", certStatuses)
	if e != nil {
		return nil, e
	}
	source, e := c.enumParam("CertificateSource", enum("BUY", "TEST", "UPLOAD"))
	if e != nil {
		return nil, e
	}
	page, size, e := c.pageParams(10)
	if e != nil {
		return nil, e
	}
	instanceID, keyword := c.opt("InstanceId", ""), strings.ToLower(c.opt("Keyword", ""))
	s.advanceInstances()
	var match []obj
	for _, uc := range s.st.sortedCerts() {
		inst := s.st.v2.idx[uc.instance]
		src, st := "UPLOAD", ""
		if inst != nil {
			src, st = inst.typ, s.certificateStatus(inst, uc.id)
		} else if !uc.upload {
			continue // a V1 order's certificate
		} else {
			st = strings.ToLower(certStatus(uc.leaf, s.now()))
		}
		names := certNames(uc.leaf)
		if instanceID != "" && uc.instance != instanceID || status != "" && st != status || source != "" && src != source ||
			keyword != "" && !strings.Contains(strings.ToLower(uc.name+" "+strings.Join(names, " ")), keyword) {
			continue
		}
		alg, bits := "RSA", 0
		switch k := uc.leaf.PublicKey.(type) {
		case *rsa.PublicKey:
			bits = k.N.BitLen()
		case *ecdsa.PublicKey:
			alg, bits = "ECC", k.Curve.Params().BitSize
		}
		match = append(match, obj{
			"CertificateId":  strconv.FormatInt(uc.id, 10), // a string in this model
			"CertIdentifier": certIdentifier(uc.id), "CertificateName": uc.name, "InstanceId": uc.instance,
			"CertificateSource": src, "CertificateStatus": st, "CommonName": uc.leaf.Subject.CommonName,
			"Domain": strings.Join(names, ","), "SubjectAlternativeNames": uc.leaf.DNSNames,
			"Algorithm": alg, "KeySize": int32(bits), "Issuer": issuerName(uc.leaf),
			"Serial": strings.ToUpper(uc.leaf.SerialNumber.Text(16)), "FingerPrint": fingerprint(uc.leaf),
			"NotBefore": uc.leaf.NotBefore.UnixMilli(), "NotAfter": uc.leaf.NotAfter.UnixMilli(),
			"ExistPrivateKey": uc.keyPEM != "", "UsingProductList": []string{},
		})
	}
	list := pageOf(match, page, size)
	return obj{"TotalCount": int64(len(match)), "CurrentPage": page, "ShowSize": size, "CertificateList": list}, nil
}

func getUserCertificateDetailV2(s *Simulator, c *call) (obj, *apiError) {
	d, e := getUserCertificateDetail(s, c)
	if e != nil {
		return nil, e
	}
	id, _ := c.idParam("CertId")
	uc := s.st.certs[id]
	if inst := s.st.v2.idx[uc.instance]; inst != nil {
		d["InstanceId"], d["CertIdentifier"] = inst.id, certIdentifier(uc.id)
		d["NotBefore"], d["NotAfter"] = uc.leaf.NotBefore.UnixMilli(), uc.leaf.NotAfter.UnixMilli()
		d["Algorithm"] = "RSA"
		if _, ec := uc.leaf.PublicKey.(*ecdsa.PublicKey); ec {
			d["Algorithm"] = "ECC"
		}
	}
	return d, nil
}
