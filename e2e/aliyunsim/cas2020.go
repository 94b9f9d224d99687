package aliyunsim

import (
	"crypto/ecdsa"
	"sort"
	"strings"
)

// CAS 2020-04-07, the current order API: orders draw on a resource package's quota, may carry
// the user's CSR, and have no idempotency token (a retried create is a second order).

var cas2020Actions = map[string]action{
	"CreateCertificateWithCsrRequest":    {run: createCertificateWithCsr},
	"CreateCertificateRequest":           {run: createCertificateRequest},
	"CreateCertificateForPackageRequest": {run: createCertificateForPackage},
	"DescribeCertificateState":           {run: describeCertificateState},
	"CancelOrderRequest":                 {run: cancelOrderRequest},
	"DeleteCertificateRequest":           {run: deleteCertificateRequest},
	"DescribePackageState":               {run: describePackageState},
	"ListUserCertificateOrder":           {run: listUserCertificateOrder},
	"UploadUserCertificate":              {run: uploadUserCertificate},
	"GetUserCertificateDetail":           {run: getUserCertificateDetail},
	"DeleteUserCertificate":              {run: deleteUserCertificate},
}

// orderRequest is what the three create actions have in common once their parameters are read.
type orderRequest struct {
	productCode  string
	validateType string
	domains      []string
	csr          *parsedCSR
}

// packageFor finds the product and its package. A code outside the catalogue has no package
// either, so both answer NotFoundPackage.
func (s *Simulator) packageFor(code string) (product, *pkgState, *apiError) {
	p, ok := products[code]
	pkg := s.st.packages[code]
	if !ok || pkg == nil {
		return p, nil, errNotFoundPackage(code)
	}
	return p, pkg, nil
}

// placeOrder runs the checks every create shares and, only when all pass, spends quota and
// creates the order.
func (s *Simulator) placeOrder(c *call, req orderRequest) (obj, *apiError) {
	if e := checkValidateType("ValidateType", req.validateType); e != nil {
		return nil, e
	}
	p, pkg, e := s.packageFor(req.productCode)
	if e != nil {
		return nil, e
	}
	if e := checkProductNames(p, pkg.maxNames, req.domains); e != nil {
		return nil, e
	}
	if e := checkFileWildcard(req.validateType, req.domains); e != nil {
		return nil, e
	}
	if pkg.used >= pkg.total {
		return nil, errNotRemainCount(p.Code, pkg.used, pkg.total)
	}
	o := s.newOrder(VersionCAS2020, c.action, p, req.domains, req.validateType, s.now())
	if req.csr != nil {
		o.pub, o.fromCSR = req.csr.pub, true
		if req.csr.cn != "" {
			o.cn = req.csr.cn
		}
	} else {
		s.keys.warm() // the simulator will generate this order's key
	}
	s.st.nextID++
	o.id = s.st.nextID
	s.st.orders[o.id] = o
	for _, d := range req.domains {
		s.st.placed[d]++
	}
	pkg.used++
	return obj{"OrderId": o.id}, nil
}

// contacts reads Username, Phone and Email; required says whether they must be present.
func contacts(c *call, required bool) *apiError {
	for _, name := range []string{"Username", "Phone", "Email"} {
		if required {
			if _, e := c.req(name); e != nil {
				return e
			}
		}
	}
	return checkContact(c.opt("Email", ""), c.opt("Phone", ""), "Phone")
}

func createCertificateWithCsr(s *Simulator, c *call) (obj, *apiError) {
	csrPEM, e := c.req("Csr")
	if e != nil {
		return nil, e
	}
	if e := contacts(c, true); e != nil {
		return nil, e
	}
	vt, e := c.req("ValidateType")
	if e != nil {
		return nil, e
	}
	csr, e := checkCSR(csrPEM, s.rt.strictCN)
	if e != nil {
		return nil, e
	}
	return s.placeOrder(c, orderRequest{productCode: c.opt("ProductCode", DefaultProduct), validateType: vt, domains: csr.domains, csr: csr})
}

func createCertificateRequest(s *Simulator, c *call) (obj, *apiError) {
	if e := contacts(c, true); e != nil {
		return nil, e
	}
	domain, e := c.req("Domain")
	if e != nil {
		return nil, e
	}
	vt, e := c.req("ValidateType")
	if e != nil {
		return nil, e
	}
	if strings.Contains(domain, ",") {
		return nil, badRequest("InvalidParameter.Domain", "CreateCertificateRequest takes one domain, not %q.", domain)
	}
	domains, e := normalizeDomains([]string{domain})
	if e != nil {
		return nil, e
	}
	return s.placeOrder(c, orderRequest{productCode: c.opt("ProductCode", DefaultProduct), validateType: vt, domains: domains})
}

// createCertificateForPackage takes a CSR or a domain list (at most 5, all plain or all
// wildcard); with both, the CSR's names win. Contacts default to the console profile and the
// validation type to DNS (unverified).
func createCertificateForPackage(s *Simulator, c *call) (obj, *apiError) {
	if e := contacts(c, false); e != nil {
		return nil, e
	}
	req := orderRequest{productCode: c.opt("ProductCode", DefaultProduct), validateType: c.opt("ValidateType", "DNS")}
	if csrPEM := c.opt("Csr", ""); csrPEM != "" {
		csr, e := checkCSR(csrPEM, s.rt.strictCN)
		if e != nil {
			return nil, e
		}
		req.csr, req.domains = csr, csr.domains
	} else {
		domain, e := c.req("Domain")
		if e != nil {
			return nil, e
		}
		parts := strings.Split(domain, ",")
		if len(parts) > 5 {
			return nil, badRequest("InvalidParameter.DomainCount", "At most 5 domains may be given, not %d.", len(parts))
		}
		domains, e := normalizeDomains(parts)
		if e != nil {
			return nil, e
		}
		wild := 0
		for _, d := range domains {
			if strings.HasPrefix(d, "*.") {
				wild++
			}
		}
		if wild != 0 && wild != len(domains) {
			return nil, badRequest("InvalidParameter.Domain", "The domains must be all plain or all wildcard.")
		}
		req.domains = domains
	}
	return s.placeOrder(c, req)
}

func (s *Simulator) findOrder(c *call) (*order, *apiError) {
	id, e := c.idParam("OrderId")
	if e != nil {
		return nil, e
	}
	o, ok := s.st.orders[id]
	if !ok {
		return nil, errNotFoundOrder(id)
	}
	s.advance(o)
	return o, nil
}

func describeCertificateState(s *Simulator, c *call) (obj, *apiError) {
	o, e := s.findOrder(c)
	if e != nil {
		return nil, e
	}
	now := s.now()
	resp := obj{"Type": o.status2020(now)}
	switch {
	case o.pendingApplication(now):
		// "payed" (待申请): pending application; nothing else is filled.
	case o.phase == phaseVerify:
		d := o.firstUnproven()
		resp["Domain"] = d
		resp["ValidateType"] = o.validateType
		if o.validateType == "DNS" {
			resp["RecordDomain"] = s.recordDomain(d)
			resp["RecordType"] = o.recordType
			resp["RecordValue"] = o.proofValue()
		} else {
			resp["Uri"] = fileAuthPath
			resp["Content"] = o.token
		}
	case o.phase == phaseIssued:
		resp["Domain"] = o.domains[0]
		resp["Certificate"] = s.pemOut(o.chainPEM)
		resp["PrivateKey"] = s.pemOut(o.keyPEM) // empty for CSR orders (unverified)
	}
	return resp, nil
}

func cancelOrderRequest(s *Simulator, c *call) (obj, *apiError) {
	o, e := s.findOrder(c)
	if e != nil {
		return nil, e
	}
	if o.phase != phaseVerify && o.phase != phaseProcess {
		return nil, errOrderState("The order %d is in state %s; CancelOrderRequest needs domain_verify or process.", o.id, o.status2020(s.now()))
	}
	o.phase = phaseCancelled
	return obj{}, nil
}

func deleteCertificateRequest(s *Simulator, c *call) (obj, *apiError) {
	o, e := s.findOrder(c)
	if e != nil {
		return nil, e
	}
	if o.phase != phaseFailed && o.phase != phaseCancelled {
		return nil, errDeleteFail("The order %d is in state %s; only verify_fail or payed orders can be deleted.", o.id, o.status2020(s.now()))
	}
	delete(s.st.orders, o.id)
	if pkg := s.st.packages[o.product.Code]; pkg != nil && pkg.used > 0 {
		pkg.used-- // the quota comes back
	}
	return obj{}, nil
}

func describePackageState(s *Simulator, c *call) (obj, *apiError) {
	code := c.opt("ProductCode", DefaultProduct)
	_, pkg, e := s.packageFor(code)
	if e != nil {
		return nil, e
	}
	return obj{"ProductCode": code, "TotalCount": pkg.total, "UsedCount": pkg.used, "IssuedCount": pkg.issued}, nil
}

// listStatuses are the Status filter values ListUserCertificateOrder accepts.
var listStatuses = map[string]bool{
	"PAYED": true, "CHECKING": true, "CHECKED_FAIL": true, "ISSUED": true,
	"WILLEXPIRED": true, "EXPIRED": true, "NOTACTIVATED": true, "REVOKED": true,
}

// listUserCertificateOrder lists orders (OrderType CPACK: package orders of this API, the
// default (unverified); BUY: purchased DV instances) or certificates (UPLOAD: uploaded ones;
// CERT: all), newest first, filtered by Status and Keyword (a substring of a domain). This is
// how a client finds an order whose create answer it lost.
func listUserCertificateOrder(s *Simulator, c *call) (obj, *apiError) {
	orderType := strings.ToUpper(c.opt("OrderType", "CPACK"))
	status := strings.ToUpper(c.opt("Status", ""))
	if status != "" && !listStatuses[status] {
		return nil, badRequest("InvalidParameter.Status", "The status %q is not one of PAYED, CHECKING, CHECKED_FAIL, ISSUED, WILLEXPIRED, EXPIRED, NOTACTIVATED, REVOKED.", status)
	}
	keyword := strings.ToLower(c.opt("Keyword", ""))
	page, e := c.intParam("CurrentPage", 1, 1, 1_000_000)
	if e != nil {
		return nil, e
	}
	size, e := c.intParam("ShowSize", 50, 1, 100)
	if e != nil {
		return nil, e
	}
	now := s.now()
	s.advanceAll()

	type entry struct {
		created int64
		tie     int64
		item    obj
	}
	var all []entry
	matches := func(st string, names ...string) bool {
		if status != "" && st != status {
			return false
		}
		if keyword == "" {
			return true
		}
		for _, n := range names {
			if strings.Contains(strings.ToLower(n), keyword) {
				return true
			}
		}
		return false
	}
	switch orderType {
	case "CPACK":
		for _, o := range s.st.orders {
			st := o.listStatus(now)
			if matches(st, o.domains...) {
				all = append(all, entry{o.created.UnixNano(), o.id, s.orderListItem(o, st)})
			}
		}
	case "BUY":
		for i, inst := range s.st.instances {
			st, names, created := inst.status(), []string{}, inst.bought
			if inst.order != nil {
				names, created = inst.order.domains, inst.order.created
			}
			if !matches(st, names...) {
				continue
			}
			// Purchased instances (unverified beyond the SDK model's fields).
			item := obj{"InstanceId": inst.id, "Status": st, "ProductCode": inst.product, "SourceType": "BUY",
				"CertType": "DV", "BuyDate": inst.bought.UnixMilli()}
			if inst.order != nil {
				item["Domain"] = inst.order.cn
				if inst.order.phase == phaseIssued {
					item["CertStartTime"] = inst.order.leaf.NotBefore.UnixMilli()
					item["CertEndTime"] = inst.order.leaf.NotAfter.UnixMilli()
				}
			}
			all = append(all, entry{created.UnixNano(), int64(i), item})
		}
	case "UPLOAD", "CERT":
		for _, uc := range s.st.certs {
			if orderType == "UPLOAD" && !uc.upload {
				continue
			}
			names := append([]string{uc.name, uc.leaf.Subject.CommonName}, uc.leaf.DNSNames...)
			if matches(certStatus(uc.leaf, now), names...) {
				all = append(all, entry{uc.created.UnixNano(), uc.id, s.certListItem(uc, now)})
			}
		}
	default:
		return nil, badRequest("InvalidParameter.OrderType", "The order type %q is not one of CPACK, BUY, UPLOAD, CERT.", orderType)
	}
	sort.Slice(all, func(i, j int) bool {
		if all[i].created != all[j].created {
			return all[i].created > all[j].created
		}
		return all[i].tie > all[j].tie
	})
	lo, hi := paginate(len(all), page, size)
	list := []obj{}
	for _, en := range all[lo:hi] {
		list = append(list, en.item)
	}
	return obj{"TotalCount": len(all), "CurrentPage": page, "ShowSize": size, "CertificateOrderList": list}, nil
}

// orderListItem is a package order (OrderType CPACK) as ListUserCertificateOrder shows it: the
// API reference documents only Domain (the main domain), BuyDate (ms), CertStartTime and
// CertEndTime (ms, once issued), OrderId and Status for this type. CommonName, Sans and
// CertificateId belong to the CERT/UPLOAD listings; CreateTime and GmtCreate do not exist.
func (s *Simulator) orderListItem(o *order, status string) obj {
	item := obj{
		"OrderId": o.id,
		"Domain":  o.cn,
		"Status":  status,
		"BuyDate": o.created.UnixMilli(),
	}
	if o.phase == phaseIssued {
		item["CertStartTime"] = o.leaf.NotBefore.UnixMilli()
		item["CertEndTime"] = o.leaf.NotAfter.UnixMilli()
	}
	return item
}

// uploadUserCertificate is CreateUserCertificate of 2018-07-13, less the SM2 variant.
func uploadUserCertificate(s *Simulator, c *call) (obj, *apiError) {
	if c.opt("EncryptCert", "") != "" || c.opt("SignCert", "") != "" {
		return nil, badRequest("InvalidParameter.Sm2", "SM2 (national) certificates are not supported by the simulator.")
	}
	tags, e := uploadTags(c)
	if e != nil {
		return nil, e
	}
	resp, e := createUserCertificate(s, c)
	if e == nil {
		s.tagUpload(resp, tags)
	}
	return resp, e
}

// getUserCertificateDetail answers the fields of the SDK's GetUserCertificateDetailResponse
// that the simulator knows: the detail, OrderId for ordered certificates, the key algorithm.
func getUserCertificateDetail(s *Simulator, c *call) (obj, *apiError) {
	uc, e := s.findCert(c)
	if e != nil {
		return nil, e
	}
	filter, e := c.boolParam("CertFilter")
	if e != nil {
		return nil, e
	}
	d := s.certDetail(uc, !filter)
	if uc.orderID != 0 {
		d["OrderId"] = uc.orderID
	}
	d["Algorithm"] = "RSA"
	if _, ec := uc.leaf.PublicKey.(*ecdsa.PublicKey); ec {
		d["Algorithm"] = "ECC"
	}
	return d, nil
}
