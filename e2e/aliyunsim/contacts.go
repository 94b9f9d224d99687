package aliyunsim

import (
	"encoding/json"
	"net/http"
	"net/mail"
	"regexp"
	"sort"
	"strings"
)

// CAS contacts (CreateContact, ListContact, GetContact): a V2.0 application names its contacts
// by id. CreateContact's error codes are the documented ones (HTTP 400): IncorrectFormat.%s,
// AlreadyExists.%s, LimitExceeded.%s. Which field AlreadyExists keys on is unverified; the
// simulator refuses a second contact with the same e-mail address.

// maxContacts is the account's contact limit (unverified).
const maxContacts = 100

// mobileRE is what CreateContact takes as Mobile: digits with an optional "+", no spaces or
// dashes (stricter than the V1 order's Phone; unverified).
var mobileRE = regexp.MustCompile(`^\+?[0-9]{5,20}$`)

type contact struct {
	id                    int64
	name, email, mobile   string
	idCard, webhooks      string
	emailStat, mobileStat int
}

// AddContact creates a contact as the console would and returns its id.
func (s *Simulator) AddContact(name, email, mobile string) int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.newContact(name, email, mobile, "", "").id
}

func (s *Simulator) newContact(name, email, mobile, idCard, webhooks string) *contact {
	v2 := s.st.v2
	v2.nextContact++
	ct := &contact{id: v2.nextContact, name: name, email: email, mobile: mobile, idCard: idCard, webhooks: webhooks}
	v2.contacts[ct.id] = ct
	return ct
}

func (ct *contact) fields() obj {
	hooks := []string{}
	if ct.webhooks != "" {
		_ = json.Unmarshal([]byte(ct.webhooks), &hooks)
	}
	return obj{
		"ContactId": ct.id, "Name": ct.name, "Email": ct.email, "EmailStatus": ct.emailStat,
		"Mobile": ct.mobile, "MobileStatus": ct.mobileStat, "Webhooks": ct.webhooks, "WebhookList": hooks,
	}
}

func createContact(s *Simulator, c *call) (obj, *apiError) {
	name, e := c.req("Name")
	if e != nil {
		return nil, e
	}
	mobile, e := c.req("Mobile")
	if e != nil {
		return nil, e
	}
	email, webhooks := c.opt("Email", ""), c.opt("Webhooks", "")
	if len([]rune(name)) > 64 {
		return nil, badRequest("IncorrectFormat.Name", "The Name parameter format is incorrect.")
	}
	if !mobileRE.MatchString(mobile) {
		return nil, badRequest("IncorrectFormat.Mobile", "The Mobile parameter format is incorrect.")
	}
	if email != "" {
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || !strings.Contains(email[strings.LastIndex(email, "@"):], ".") {
			return nil, badRequest("IncorrectFormat.Email", "The Email parameter format is incorrect.")
		}
	}
	if webhooks != "" {
		var hooks []string
		if err := json.Unmarshal([]byte(webhooks), &hooks); err != nil {
			return nil, badRequest("IncorrectFormat.Webhooks", "The Webhooks parameter format is incorrect.")
		}
	}
	for _, ct := range s.st.v2.contacts {
		if email != "" && strings.EqualFold(ct.email, email) {
			return nil, badRequest("AlreadyExists.Email", "A Email with the same value already exists.")
		}
	}
	if len(s.st.v2.contacts) >= maxContacts {
		return nil, badRequest("LimitExceeded.Contact", "The maximum number of Contact is exceeded.")
	}
	ct := s.newContact(name, email, mobile, c.opt("Idcard", ""), webhooks)
	return obj{"ContactId": ct.id}, nil
}

func listContact(s *Simulator, c *call) (obj, *apiError) {
	page, size, e := c.pageParams(20)
	if e != nil {
		return nil, e
	}
	keyword := c.opt("Keyword", "")
	var all []*contact
	for _, ct := range s.st.v2.contacts {
		low := strings.ToLower(keyword)
		if keyword == "" || strings.Contains(strings.ToLower(ct.name), low) || strings.Contains(strings.ToLower(ct.email), low) || strings.Contains(ct.mobile, keyword) {
			all = append(all, ct)
		}
	}
	sort.Slice(all, func(i, j int) bool { return all[i].id < all[j].id })
	lo, hi := paginate(len(all), page, size)
	list := []obj{}
	for _, ct := range all[lo:hi] {
		list = append(list, ct.fields())
	}
	return obj{"TotalCount": int64(len(all)), "CurrentPage": page, "ShowSize": size, "Keyword": keyword, "ContactList": list}, nil
}

func getContact(s *Simulator, c *call) (obj, *apiError) {
	id, e := c.idParam("ContactId")
	if e != nil {
		return nil, e
	}
	ct := s.st.v2.contacts[id]
	if ct == nil {
		return nil, newErr(http.StatusNotFound, "InvalidContactId.NotFound", "The contact %d does not exist.", id)
	}
	m := ct.fields()
	m["IdCard"] = ct.idCard
	return m, nil
}
