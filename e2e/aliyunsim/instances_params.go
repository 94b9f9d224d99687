package aliyunsim

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"net/http"
	"strconv"
	"strings"
)

// Parameter checks of UpdateInstance.

// keyAlgorithmOf names a CSR key the way KeyAlgorithm does; "" when it has no name.
func keyAlgorithmOf(csr *parsedCSR) string {
	switch k := csr.pub.(type) {
	case *rsa.PublicKey:
		switch k.N.BitLen() {
		case 2048, 3072, 4096:
			return "RSA_" + strconv.Itoa(k.N.BitLen())
		}
	case *ecdsa.PublicKey:
		if k.Curve == elliptic.P256() {
			return "ECC_256"
		}
	}
	return ""
}

// checkCapacity applies FullDomainCount and WildcardDomainCount to the names.
func checkCapacity(inst *v2Instance, domains []string) *apiError {
	wild := 0
	for _, d := range domains {
		if strings.HasPrefix(d, "*.") {
			wild++
		}
	}
	if inst.typ == InstanceTest && (len(domains) != 1 || wild != 0) {
		return badRequest("DomainAndProductNotMatch", "A test certificate covers one plain domain, not %v.", domains)
	}
	if wild > inst.wildDoms || len(domains)-wild > inst.fullDomains {
		return badRequest("InvalidParameter.DomainCount", "The instance %s holds %d plain and %d wildcard domain(s); the application names %v.", inst.id, inst.fullDomains, inst.wildDoms, domains)
	}
	return nil
}

// readTags reads Tags.N.TagKey / Tags.N.TagValue, N = 1..20.
func readTags(c *call) ([]tag, bool, *apiError) {
	var tags []tag
	given := false
	for k := range c.params {
		if strings.HasPrefix(k, "Tags.") {
			given = true
		}
	}
	for n := 1; n <= 21; n++ {
		key, value := c.opt("Tags."+strconv.Itoa(n)+".TagKey", ""), c.params["Tags."+strconv.Itoa(n)+".TagValue"]
		if key == "" {
			break
		}
		if n > 20 {
			return nil, false, errInvalidParam("Tags", "at most 20 tags")
		}
		low := strings.ToLower(key)
		if len(key) > 64 || len(value) > 128 || strings.HasPrefix(low, "aliyun") || strings.HasPrefix(low, "acs:") ||
			strings.Contains(key+value, "http://") || strings.Contains(key+value, "https://") {
			return nil, false, errInvalidParam("Tags."+strconv.Itoa(n), "the tag %q is not allowed", key)
		}
		tags = append(tags, tag{key, value})
	}
	return tags, given, nil
}

// readContactIDs reads ContactIdList.N and checks every id names a contact.
func (s *Simulator) readContactIDs(c *call) ([]int64, *apiError) {
	var ids []int64
	for n := 1; ; n++ {
		v := c.opt("ContactIdList."+strconv.Itoa(n), "")
		if v == "" {
			break
		}
		id, err := strconv.ParseInt(v, 10, 64)
		if err != nil || id <= 0 {
			return nil, errInvalidParam("ContactIdList."+strconv.Itoa(n), "%q is not a contact id", v)
		}
		if s.st.v2.contacts[id] == nil {
			return nil, newErr(http.StatusNotFound, "InvalidContactId.NotFound", "The contact %d does not exist.", id)
		}
		ids = append(ids, id)
	}
	return ids, nil
}
