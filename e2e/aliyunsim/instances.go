package aliyunsim

import (
	"math"
	"net/http"
	"strconv"
	"strings"
)

// The V2.0 actions of CAS 2020-04-07 (subscription instances). Parameter names, types and
// enumerations follow the generated SDK models of cas-20200407 (alibabacloud-go-sdk); the
// response field types too, including the inconsistencies the SDK records: CertificateId is a
// number in GetInstanceDetail (int32) and ListInstances (int64) and a string in
// ListCertificates. Alibaba publishes no error codes for these actions. Observed ones:
// OperationDenied.StatusNotSupport (apply on a pending instance, cancel with nothing to
// withdraw or in the seconds after the records appear), DomainAndProductNotMatch (a TEST
// instance and a domain it cannot hold). The simulator's own (HTTP 400 unless noted):
//
//	InvalidInstanceId.NotFound (404)   no such instance (GetTaskAttribute: no such TaskId)
//	NotFound (404)                     GetTaskAttribute on an instance never applied for
//	InvalidParameter.KeyAlgorithm      KeyAlgorithm does not match the uploaded CSR's key
//	InvalidParameter.DomainCount       more names than FullDomainCount/WildcardDomainCount
//	InvalidParameter.Domain            Domain disagrees with the uploaded CSR
//	InvalidContactId.NotFound (404)    a ContactIdList entry or ContactId names no contact
//	OperationDenied.IncompleteInformation  ApplyCertificate before UpdateInstance gave a
//	                                   domain and a contact
//	InvalidStatus.UpdateProtection     UpdateInstance within UpdateProtection of the end of an
//	                                   application (the code is Terraform's observation)

func init() {
	for name, act := range map[string]action{
		"ListInstances":            {run: listInstances},
		"GetInstanceDetail":        {run: getInstanceDetail},
		"GetInstanceSummary":       {run: getInstanceSummary},
		"UpdateInstance":           {run: updateInstance},
		"ApplyCertificate":         {run: applyCertificate},
		"GetTaskAttribute":         {run: getTaskAttribute},
		"CancelPendingCertificate": {run: cancelPendingCertificate},
		"ListCertificates":         {run: listCertificates},
		"RevokeCertificate":        {run: revokeCertificate},
		"ListContact":              {run: listContact},
		"CreateContact":            {run: createContact},
		"GetContact":               {run: getContact},
		// The V1 download, extended with the fields a certificate issued on an instance has.
		"GetUserCertificateDetail": {run: getUserCertificateDetailV2},
	} {
		cas2020Actions[name] = act
	}
}

var (
	instanceStatuses = enum("inactive", "pending", "normal", "willExpire", "expired", "refund", "closed")
	certStatuses     = enum("issued", "revoked", "willExpire", "expired")
	keyAlgorithms    = enum("RSA_2048", "RSA_3072", "RSA_4096", "ECC_256", "SM2")
)

func enum(values ...string) map[string]bool {
	m := map[string]bool{}
	for _, v := range values {
		m[v] = true
	}
	return m
}

// enumParam reads an optional parameter that must be one of allowed.
func (c *call) enumParam(name string, allowed map[string]bool) (string, *apiError) {
	v := c.opt(name, "")
	if v != "" && !allowed[v] {
		return "", errInvalidParam(name, "%q is not an accepted value", v)
	}
	return v, nil
}

func errStatusNotSupport(inst *v2Instance, st string) *apiError {
	return badRequest("OperationDenied.StatusNotSupport", "当前状态不支持当前操作 (instance %s is %s).", inst.id, st)
}

func (s *Simulator) findV2Instance(c *call, param string) (*v2Instance, *apiError) {
	id, e := c.req(param)
	if e != nil {
		return nil, e
	}
	inst := s.st.v2.idx[id]
	if inst == nil {
		return nil, newErr(http.StatusNotFound, "InvalidInstanceId.NotFound", "The instance %q does not exist.", id)
	}
	s.advanceInstance(inst)
	return inst, nil
}

// idleInstance is the instance named by InstanceId when it can take an application: alive
// and not in flight.
func (s *Simulator) idleInstance(c *call) (*v2Instance, *apiError) {
	inst, e := s.findV2Instance(c, "InstanceId")
	if e != nil {
		return nil, e
	}
	now := s.now()
	if st := inst.status(now); st == "pending" || !inst.usable(now) {
		return nil, errStatusNotSupport(inst, st)
	}
	return inst, nil
}

// pageParams reads CurrentPage (default 1) and ShowSize (default def, at most 100).
func (c *call) pageParams(def int64) (page, size int64, e *apiError) {
	if page, e = c.intParam("CurrentPage", 1, 1, 1_000_000); e != nil {
		return 0, 0, e
	}
	size, e = c.intParam("ShowSize", def, 1, 100)
	return page, size, e
}

// pageOf is one page of a listing, never nil.
func pageOf(items []obj, page, size int64) []obj {
	lo, hi := paginate(len(items), page, size)
	return append([]obj{}, items[lo:hi]...)
}

// instanceFields are the fields ListInstances and GetInstanceDetail share.
func (s *Simulator) instanceFields(inst *v2Instance) obj {
	now := s.now()
	m := obj{
		"InstanceId": inst.id, "Status": inst.status(now), "InstanceType": inst.typ, "Spec": inst.spec,
		"Brand": inst.brand, "CertificateType": "DV", "KeyAlgorithm": inst.cfg.keyAlg,
		"Domain": strings.Join(inst.cfg.domains, ","), "CertificateName": inst.cfg.name,
		"FullDomainCount": inst.fullDomains, "WildcardDomainCount": inst.wildDoms,
		"AutoReissue": inst.cfg.autoReissue, "CertificateStatus": s.certificateStatus(inst, inst.certID),
		"OrderStartTime": inst.bought.UnixMilli(), "OrderEndTime": inst.ends.UnixMilli(),
		"InstanceStartTime": inst.bought.UnixMilli(), "InstanceEndTime": inst.ends.UnixMilli(),
		"PendingResult": "", "ResourceGroupId": "rg-default",
	}
	if inst.inFlight() {
		m["PendingResult"] = "pending"
	}
	if uc := s.st.certs[inst.certID]; uc != nil {
		m["CertIdentifier"] = certIdentifier(uc.id)
		m["CertificateNotBefore"] = uc.leaf.NotBefore.UnixMilli()
		m["CertificateNotAfter"] = uc.leaf.NotAfter.UnixMilli()
		if t, ok := inst.revoked[uc.id]; ok {
			m["CertificateRevokeTime"] = t.UnixMilli()
		}
	}
	return m
}

// certIdentifier is the site-suffixed id other services refer to (China site).
func certIdentifier(id int64) string { return strconv.FormatInt(id, 10) + "-cn-hangzhou" }

func listInstances(s *Simulator, c *call) (obj, *apiError) {
	status, e := c.enumParam("Status", instanceStatuses)
	if e != nil {
		return nil, e
	}
	certStatus, e := c.enumParam("CertificateStatus", certStatuses)
	if e != nil {
		return nil, e
	}
	typ, e := c.enumParam("InstanceType", enum(InstanceBuy, InstanceTest))
	if e != nil {
		return nil, e
	}
	certType, e := c.enumParam("CertificateType", enum("DV", "OV", "EV"))
	if e != nil {
		return nil, e
	}
	page, size, e := c.pageParams(10)
	if e != nil {
		return nil, e
	}
	brand, keyword := c.opt("Brand", ""), strings.ToLower(c.opt("Keyword", ""))
	s.advanceInstances()
	var match []obj
	for _, inst := range s.st.v2.instances {
		m := s.instanceFields(inst)
		if status != "" && m["Status"] != status || certStatus != "" && m["CertificateStatus"] != certStatus ||
			typ != "" && inst.typ != typ || certType != "" && certType != "DV" || brand != "" && brand != inst.brand {
			continue
		}
		if keyword != "" && !strings.Contains(strings.ToLower(inst.id+" "+inst.cfg.name+" "+strings.Join(inst.cfg.domains, " ")), keyword) {
			continue
		}
		if inst.certID != 0 {
			m["CertificateId"] = inst.certID // int64 here
		}
		if uc := s.st.certs[inst.certID]; uc != nil {
			// Only the listing has CertificateDomain (cas-20200407 ListInstances model; the
			// GetInstanceDetail model has no such field).
			m["CertificateDomain"] = strings.Join(certNames(uc.leaf), ",")
		}
		m["UsingProductList"] = []string{}
		match = append(match, m)
	}
	list := pageOf(match, page, size)
	return obj{"TotalCount": int64(len(match)), "CurrentPage": page, "ShowSize": size, "InstanceList": list}, nil
}

func getInstanceDetail(s *Simulator, c *call) (obj, *apiError) {
	inst, e := s.findV2Instance(c, "InstanceId")
	if e != nil {
		return nil, e
	}
	m := s.instanceFields(inst)
	if inst.certID != 0 {
		m["CertificateId"] = int32(inst.certID) // int32 in this model
	}
	contacts := inst.cfg.contacts
	if contacts == nil {
		contacts = []int64{}
	}
	tags := []obj{}
	for _, t := range inst.cfg.tags {
		tags = append(tags, obj{"TagKey": t.key, "TagValue": t.value})
	}
	m["Csr"], m["GenerateCsrMethod"], m["ValidationMethod"] = inst.cfg.csrPEM, inst.cfg.method, inst.cfg.validation
	m["ContactIdList"], m["Tags"], m["DomainValidationList"] = contacts, tags, s.validationList(inst)
	m["CountryCode"], m["Province"], m["City"] = "CN", "Beijing", "Beijing"
	m["AverageWaitingTime"], m["UpgradeStatus"], m["DingGroupList"] = s.averageWaitingTime(), "none", []obj{}
	return m, nil
}

func getInstanceSummary(s *Simulator, c *call) (obj, *apiError) {
	typ, e := c.enumParam("InstanceType", enum(InstanceBuy, InstanceTest))
	if e != nil {
		return nil, e
	}
	s.advanceInstances()
	now := s.now()
	var total, inactive, willExpire int32
	for _, inst := range s.st.v2.instances {
		if typ != "" && inst.typ != typ {
			continue
		}
		total++
		switch inst.status(now) {
		case "inactive":
			inactive++
		case "willExpire":
			willExpire++
		}
	}
	// The quota counters are the account's remaining certificates: one per usable instance
	// (unverified; Alibaba documents only the names).
	return obj{"TotalCount": total, "InactiveCount": inactive, "WillExpireCount": willExpire,
		"CertificateCount": inactive, "AutoReissueCount": int32(0)}, nil
}

func updateInstance(s *Simulator, c *call) (obj, *apiError) {
	inst, e := s.idleInstance(c)
	if e != nil {
		return nil, e
	}
	if p := s.cfg.V2.UpdateProtection; p > 0 && !inst.endedAt.IsZero() && s.now().Before(inst.endedAt.Add(p)) {
		return nil, badRequest("InvalidStatus.UpdateProtection", "The instance %s is protected against updates for a while; retry later.", inst.id)
	}
	cfg := inst.cfg
	method, e := c.enumParam("GenerateCsrMethod", enum("online", "upload"))
	if e != nil {
		return nil, e
	}
	if method == "" {
		method = "online"
	}
	keyAlg, e := c.enumParam("KeyAlgorithm", keyAlgorithms)
	if e != nil {
		return nil, e
	}
	if keyAlg == "" {
		keyAlg = "RSA_2048"
	}
	validation, e := c.enumParam("ValidationMethod", enum("DNS", "HTTP"))
	if e != nil {
		return nil, e
	}
	autoReissue, e := c.enumParam("AutoReissue", enum("enable", "disable"))
	if e != nil {
		return nil, e
	}
	if _, e := c.intParam("CompanyId", 0, 0, 1<<62); e != nil {
		return nil, e
	}
	for _, name := range []string{"CountryCode", "Province", "City", "ResourceGroupId"} {
		_ = c.opt(name, "") // accepted; Province and City are overridden by the server default
	}
	contacts, e := s.readContactIDs(c)
	if e != nil {
		return nil, e
	}
	tags, tagsGiven, e := readTags(c)
	if e != nil {
		return nil, e
	}
	var csr *parsedCSR
	var domains []string
	csrPEM := ""
	domainParam := c.opt("Domain", "")
	if method == "upload" {
		if csrPEM, e = c.req("Csr"); e != nil {
			return nil, e
		}
		if csr, e = checkCSR(csrPEM, s.rt.strictCN); e != nil {
			return nil, e
		}
		if alg := keyAlgorithmOf(csr); alg != keyAlg {
			return nil, badRequest("InvalidParameter.KeyAlgorithm", "KeyAlgorithm %s does not match the CSR's key (%s).", keyAlg, strings.TrimSuffix(alg+" ", " "))
		}
		domains = csr.domains
		// With upload the domain is the CSR's; a Domain that disagrees is rejected [TF].
		if domainParam != "" && !strings.EqualFold(domainParam, strings.Join(domains, ",")) && !strings.EqualFold(domainParam, csr.cn) {
			return nil, badRequest("InvalidParameter.Domain", "Domain %q does not match the CSR (%s).", domainParam, strings.Join(domains, ","))
		}
	} else {
		if keyAlg == "SM2" {
			return nil, badRequest("InvalidParameter.KeyAlgorithm", "SM2 is not simulated.")
		}
		d, e := c.req("Domain")
		if e != nil {
			return nil, e
		}
		if domains, e = normalizeDomains(strings.Split(d, ",")); e != nil {
			return nil, e
		}
	}
	if e := checkCapacity(inst, domains); e != nil {
		return nil, e
	}
	if validation == "HTTP" {
		if e := checkFileWildcard("FILE", domains); e != nil {
			return nil, e
		}
	}
	cfg.method, cfg.csrPEM, cfg.csr, cfg.domains, cfg.keyAlg = method, csrPEM, csr, domains, keyAlg
	if validation != "" {
		cfg.validation = validation
	} else if cfg.validation == "" {
		cfg.validation = "DNS"
	}
	if contacts != nil {
		cfg.contacts = contacts
	}
	if autoReissue != "" {
		cfg.autoReissue = autoReissue
	}
	if name := c.opt("CertificateName", ""); name != "" {
		if len([]rune(name)) > maxCertName {
			return nil, errInvalidParam("CertificateName", "longer than %d characters", maxCertName)
		}
		cfg.name = name
	}
	if tagsGiven {
		cfg.tags = tags // the given tags replace the instance's (unverified)
	}
	inst.cfg = cfg
	if s.st.v2.autoSubmit && inst.typ == InstanceBuy && len(cfg.contacts) > 0 {
		s.submit(inst)
	}
	return obj{}, nil
}

func applyCertificate(s *Simulator, c *call) (obj, *apiError) {
	inst, e := s.idleInstance(c)
	if e != nil {
		return nil, e
	}
	if len(inst.cfg.domains) == 0 || len(inst.cfg.contacts) == 0 {
		// "You must specify at least one contact. Otherwise, you cannot call
		// ApplyCertificate" [SDK]; the code is the simulator's own.
		return nil, badRequest("OperationDenied.IncompleteInformation", "The instance %s has no complete application (domain and at least one contact); call UpdateInstance first.", inst.id)
	}
	s.submit(inst)
	return obj{}, nil
}

func getTaskAttribute(s *Simulator, c *call) (obj, *apiError) {
	if _, e := c.enumParam("TaskType", enum("ApplyCertificate")); e != nil {
		return nil, e
	}
	// TaskId is the instance id (zh/ja docs).
	inst, e := s.findV2Instance(c, "TaskId")
	if e != nil {
		return nil, e
	}
	a := inst.appl
	if a == nil {
		return nil, newErr(http.StatusNotFound, "NotFound", "The instance %s has no task.", inst.id)
	}
	status := "success"
	if a.order == nil && !a.done {
		status = "processing"
	}
	return obj{"TaskStatus": status, "TaskMessage": ""}, nil
}

func cancelPendingCertificate(s *Simulator, c *call) (obj, *apiError) {
	inst, e := s.findV2Instance(c, "InstanceId")
	if e != nil {
		return nil, e
	}
	now := s.now()
	a := inst.appl
	if !inst.inFlight() || now.Before(a.recordsAt.Add(s.cfg.V2.CancelRefusal)) {
		return nil, errStatusNotSupport(inst, inst.status(now))
	}
	if a.cancelAt.IsZero() {
		a.cancelAt = now
	}
	return obj{}, nil
}

// averageWaitingTime is AverageWaitingTime, the product's average issuance time in whole
// seconds as a string (the SDK model's type): this CA's, from the submission to the
// certificate when the proof is there at once.
func (s *Simulator) averageWaitingTime() string {
	d := s.cfg.V2.RecordsDelay + s.rt.validationDelay + s.rt.issueDelay
	return strconv.FormatInt(int64(math.Ceil(d.Seconds())), 10)
}
