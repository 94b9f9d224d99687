package aliyunsim

import (
	"encoding/binary"
	"errors"
	"net"
	"strings"
)

// An authoritative DNS server for the account's Alidns zones over UDP, so that clients that
// check propagation with real DNS queries (as DNS-01 solvers do) see the records the Alidns
// API created. Minimal wire format by hand (RFC 1035): one question, answers for TXT, A, AAAA
// and CNAME, NXDOMAIN/NODATA with the zone's SOA, REFUSED outside the zones, EDNS0 payload
// size honoured, TC set when an answer does not fit.

const (
	dnsTypeA     = 1
	dnsTypeNS    = 2
	dnsTypeCNAME = 5
	dnsTypeSOA   = 6
	dnsTypeTXT   = 16
	dnsTypeAAAA  = 28
	dnsTypeOPT   = 41
	dnsTypeANY   = 255
	dnsClassIN   = 1

	rcodeOK       = 0
	rcodeFormErr  = 1
	rcodeNXDomain = 3
	rcodeNotImp   = 4
	rcodeRefused  = 5

	negativeTTL = 600
	// maxEDNSPayload is the largest UDP answer the server sends when the client allows more
	// than 512 bytes (the size DNS flag day 2020 recommends).
	maxEDNSPayload = 1232
)

type dnsServer struct {
	conn *net.UDPConn
	done chan struct{}
}

func startDNS(s *Simulator, listen string) (*dnsServer, error) {
	addr, err := net.ResolveUDPAddr("udp", listen)
	if err != nil {
		return nil, err
	}
	conn, err := net.ListenUDP("udp", addr)
	if err != nil {
		return nil, err
	}
	d := &dnsServer{conn: conn, done: make(chan struct{})}
	go func() {
		defer close(d.done)
		buf := make([]byte, 4096)
		for {
			n, peer, err := conn.ReadFromUDP(buf)
			if err != nil {
				if errors.Is(err, net.ErrClosed) {
					return
				}
				continue
			}
			if resp := s.answerDNS(buf[:n]); resp != nil {
				_, _ = conn.WriteToUDP(resp, peer)
			}
		}
	}()
	return d, nil
}

func (d *dnsServer) addr() string { return d.conn.LocalAddr().String() }

func (d *dnsServer) close() error {
	err := d.conn.Close()
	<-d.done
	return err
}

// dnsQuery is the parsed part of a query the answer needs.
type dnsQuery struct {
	id       uint16
	flags    uint16
	question []byte // the raw question section, echoed back
	name     string // lower case, no trailing dot
	qtype    uint16
	qclass   uint16
	edns     bool
	payload  int
}

// parseDNSQuery reads the header and the single question; ok is false when not even the
// header is there (such packets are dropped).
func parseDNSQuery(msg []byte) (q dnsQuery, rcode int, ok bool) {
	if len(msg) < 12 {
		return q, 0, false
	}
	q.id = binary.BigEndian.Uint16(msg[0:])
	q.flags = binary.BigEndian.Uint16(msg[2:])
	if q.flags&0x8000 != 0 {
		return q, 0, false // a response, not a query: never answer it
	}
	if op := (q.flags >> 11) & 0xF; op != 0 {
		return q, rcodeNotImp, true
	}
	if binary.BigEndian.Uint16(msg[4:]) != 1 || binary.BigEndian.Uint16(msg[6:]) != 0 || binary.BigEndian.Uint16(msg[8:]) != 0 {
		return q, rcodeFormErr, true
	}
	off := 12
	var labels []string
	for {
		if off >= len(msg) {
			return q, rcodeFormErr, true
		}
		l := int(msg[off])
		off++
		if l == 0 {
			break
		}
		// Compression pointers (and the reserved 01/10 prefixes) have no business in a question.
		if l > 63 || off+l > len(msg) {
			return q, rcodeFormErr, true
		}
		labels = append(labels, strings.ToLower(string(msg[off:off+l])))
		off += l
	}
	if off+4 > len(msg) || off-12 > 255 {
		return q, rcodeFormErr, true
	}
	q.name = strings.Join(labels, ".")
	q.qtype = binary.BigEndian.Uint16(msg[off:])
	q.qclass = binary.BigEndian.Uint16(msg[off+2:])
	off += 4
	q.question = msg[12:off]
	// EDNS0: an OPT record (root name, type 41) in the additional section carries the
	// client's UDP payload size in its class field.
	q.payload = 512
	if binary.BigEndian.Uint16(msg[10:]) >= 1 && off+11 <= len(msg) && msg[off] == 0 &&
		binary.BigEndian.Uint16(msg[off+1:]) == dnsTypeOPT {
		q.edns = true
		if size := int(binary.BigEndian.Uint16(msg[off+3:])); size > 512 {
			q.payload = min(size, maxEDNSPayload)
		}
	}
	return q, rcodeOK, true
}

// dnsRR is one resource record of an answer.
type dnsRR struct {
	name  []byte // encoded owner name
	typ   uint16
	ttl   uint32
	rdata []byte
}

// answerDNS builds the response to one query packet, or nil to drop it.
func (s *Simulator) answerDNS(msg []byte) []byte {
	q, rcode, ok := parseDNSQuery(msg)
	if !ok {
		return nil
	}
	if rcode != rcodeOK {
		return buildDNS(q, rcode, false, nil, nil)
	}
	if q.qclass != dnsClassIN && q.qclass != dnsTypeANY {
		return buildDNS(q, rcodeRefused, false, nil, nil)
	}
	s.mu.Lock()
	zoneName, own := s.zoneOf(q.name)
	var answers []dnsRR
	exists := q.name == zoneName
	if own {
		for _, r := range s.st.sortedRecords() {
			fq := r.fqdn()
			if fq != q.name {
				if strings.HasSuffix(fq, "."+q.name) {
					exists = true // an empty non-terminal exists too
				}
				continue
			}
			exists = true
			if rr, ok := recordToRR(r, q.qtype); ok {
				answers = append(answers, rr)
			}
		}
	}
	s.mu.Unlock()
	if !own {
		return buildDNS(q, rcodeRefused, false, nil, nil)
	}
	if q.name == zoneName && (q.qtype == dnsTypeSOA || q.qtype == dnsTypeANY) {
		answers = append(answers, soaRR(zoneName))
	}
	if len(answers) > 0 {
		return buildDNS(q, rcodeOK, true, answers, nil)
	}
	rcode = rcodeOK
	if !exists {
		rcode = rcodeNXDomain
	}
	return buildDNS(q, rcode, true, nil, []dnsRR{soaRR(zoneName)})
}

// questionName points at the name in the question (offset 12), compressing every answer's
// owner name to two bytes.
var questionName = []byte{0xC0, 0x0C}

func recordToRR(r *record, qtype uint16) (dnsRR, bool) {
	var typ uint16
	var rdata []byte
	switch r.typ {
	case "TXT":
		typ = dnsTypeTXT
		v := r.value
		for {
			n := min(len(v), 255)
			rdata = append(rdata, byte(n))
			rdata = append(rdata, v[:n]...)
			v = v[n:]
			if len(v) == 0 {
				break
			}
		}
	case "A":
		typ, rdata = dnsTypeA, net.ParseIP(r.value).To4()
	case "AAAA":
		typ, rdata = dnsTypeAAAA, net.ParseIP(r.value).To16()
	case "CNAME":
		typ, rdata = dnsTypeCNAME, encodeDNSName(r.value)
	default:
		return dnsRR{}, false
	}
	// A CNAME answers any type, as the owner has nothing else.
	if qtype != typ && qtype != dnsTypeANY && typ != dnsTypeCNAME {
		return dnsRR{}, false
	}
	return dnsRR{name: questionName, typ: typ, ttl: uint32(r.ttl), rdata: rdata}, true
}

func soaRR(zone string) dnsRR {
	rdata := encodeDNSName("ns1." + zone)
	rdata = append(rdata, encodeDNSName("hostmaster."+zone)...)
	for _, v := range []uint32{1, 3600, 600, 86400, negativeTTL} { // serial refresh retry expire minimum
		rdata = binary.BigEndian.AppendUint32(rdata, v)
	}
	return dnsRR{name: encodeDNSName(zone), typ: dnsTypeSOA, ttl: negativeTTL, rdata: rdata}
}

// encodeDNSName writes a name as uncompressed labels; labels longer than 63 bytes are cut
// (such names never reach here from checked records).
func encodeDNSName(name string) []byte {
	var b []byte
	for _, l := range strings.Split(strings.TrimSuffix(name, "."), ".") {
		if l == "" {
			continue
		}
		if len(l) > 63 {
			l = l[:63]
		}
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

// buildDNS writes the response: the query's id, opcode and RD echoed, QR and (for the zones)
// AA set, no recursion offered.
func buildDNS(q dnsQuery, rcode int, aa bool, answers, authority []dnsRR) []byte {
	build := func(answers, authority []dnsRR, tc bool) []byte {
		flags := uint16(0x8000) | q.flags&0x7800 | q.flags&0x0100 | uint16(rcode)
		if aa {
			flags |= 0x0400
		}
		if tc {
			flags |= 0x0200
		}
		qd := 0
		if q.question != nil {
			qd = 1
		}
		ar := 0
		if q.edns {
			ar = 1
		}
		b := make([]byte, 12, 512)
		binary.BigEndian.PutUint16(b[0:], q.id)
		binary.BigEndian.PutUint16(b[2:], flags)
		binary.BigEndian.PutUint16(b[4:], uint16(qd))
		binary.BigEndian.PutUint16(b[6:], uint16(len(answers)))
		binary.BigEndian.PutUint16(b[8:], uint16(len(authority)))
		binary.BigEndian.PutUint16(b[10:], uint16(ar))
		b = append(b, q.question...)
		for _, rr := range append(answers, authority...) {
			b = append(b, rr.name...)
			b = binary.BigEndian.AppendUint16(b, rr.typ)
			b = binary.BigEndian.AppendUint16(b, dnsClassIN)
			b = binary.BigEndian.AppendUint32(b, rr.ttl)
			b = binary.BigEndian.AppendUint16(b, uint16(len(rr.rdata)))
			b = append(b, rr.rdata...)
		}
		if q.edns {
			// OPT: root name, our payload size, extended rcode/version/flags 0, no options.
			b = append(b, 0)
			b = binary.BigEndian.AppendUint16(b, dnsTypeOPT)
			b = binary.BigEndian.AppendUint16(b, maxEDNSPayload)
			b = binary.BigEndian.AppendUint32(b, 0)
			b = binary.BigEndian.AppendUint16(b, 0)
		}
		return b
	}
	msg := build(answers, authority, false)
	if q.payload == 0 {
		q.payload = 512
	}
	if len(msg) > q.payload {
		msg = build(nil, nil, true)
	}
	return msg
}
