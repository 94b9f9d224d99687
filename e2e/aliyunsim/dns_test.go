package aliyunsim

import (
	"context"
	"encoding/binary"
	"net"
	"strings"
	"testing"
	"time"
)

// dnsQueryPacket builds a query by hand: one question, optionally an EDNS0 OPT record.
func dnsQueryPacket(id uint16, name string, qtype uint16, edns bool) []byte {
	b := make([]byte, 12)
	binary.BigEndian.PutUint16(b[0:], id)
	binary.BigEndian.PutUint16(b[2:], 0x0100) // RD
	binary.BigEndian.PutUint16(b[4:], 1)
	if edns {
		binary.BigEndian.PutUint16(b[10:], 1)
	}
	b = append(b, encodeDNSNameForTest(name)...)
	b = binary.BigEndian.AppendUint16(b, qtype)
	b = binary.BigEndian.AppendUint16(b, 1)
	if edns {
		b = append(b, 0, 0, 41, 0x10, 0x00, 0, 0, 0, 0, 0, 0) // OPT, 4096 bytes
	}
	return b
}

func encodeDNSNameForTest(name string) []byte {
	var b []byte
	for _, l := range strings.Split(name, ".") {
		b = append(b, byte(len(l)))
		b = append(b, l...)
	}
	return append(b, 0)
}

func exchange(t *testing.T, addr string, q []byte) []byte {
	t.Helper()
	conn, err := net.Dial("udp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write(q); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 2048)
	n, err := conn.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return buf[:n]
}

type dnsHeader struct {
	id             uint16
	qr, aa, tc, rd bool
	rcode          int
	qd, an, ns, ar int
}

func header(msg []byte) dnsHeader {
	f := binary.BigEndian.Uint16(msg[2:])
	return dnsHeader{
		id: binary.BigEndian.Uint16(msg[0:]), qr: f&0x8000 != 0, aa: f&0x0400 != 0, tc: f&0x0200 != 0, rd: f&0x0100 != 0,
		rcode: int(f & 0xF), qd: int(binary.BigEndian.Uint16(msg[4:])), an: int(binary.BigEndian.Uint16(msg[6:])),
		ns: int(binary.BigEndian.Uint16(msg[8:])), ar: int(binary.BigEndian.Uint16(msg[10:])),
	}
}

func TestDNSServer(t *testing.T) {
	e := newEnv(t, func(c *Config) {
		c.Zones = []string{"example.com"}
		c.DNSListen = "127.0.0.1:0"
	})
	addr := e.sim.DNSAddr()
	if addr == "" {
		t.Fatal("DNS is off")
	}
	e.addTXT("example.com", "_dnsauth.www", "token-1")
	e.addTXT("example.com", "_dnsauth.www", strings.Repeat("x", 300)) // two character-strings
	expectOK(t, e.c.call(VersionAlidns, "AddDomainRecord", "DomainName", "example.com", "RR", "www", "Type", "A", "Value", "192.0.2.7"))

	// The standard library's resolver, pointed at the simulator.
	r := &net.Resolver{PreferGo: true, Dial: func(ctx context.Context, network, _ string) (net.Conn, error) {
		return (&net.Dialer{}).DialContext(ctx, "udp", addr)
	}}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	txt, err := r.LookupTXT(ctx, "_dnsauth.www.example.com")
	if err != nil {
		t.Fatalf("LookupTXT: %v", err)
	}
	joined := strings.Join(txt, "|")
	if !strings.Contains(joined, "token-1") || !strings.Contains(joined, strings.Repeat("x", 300)) {
		t.Fatalf("TXT: %q", txt)
	}
	ips, err := r.LookupHost(ctx, "www.example.com")
	if err != nil || len(ips) != 1 || ips[0] != "192.0.2.7" {
		t.Fatalf("LookupHost: %v %v", ips, err)
	}
	if _, err := r.LookupTXT(ctx, "missing.example.com"); err == nil {
		t.Fatal("NXDOMAIN name resolved")
	} else if de, ok := err.(*net.DNSError); !ok || !de.IsNotFound {
		t.Fatalf("want not found, got %v", err)
	}

	// The wire format, by hand.
	msg := exchange(t, addr, dnsQueryPacket(0xBEEF, "_DNSAUTH.www.Example.com", dnsTypeTXT, false))
	h := header(msg)
	if h.id != 0xBEEF || !h.qr || !h.aa || !h.rd || h.rcode != rcodeOK || h.qd != 1 || h.an != 2 || h.tc {
		t.Fatalf("TXT answer header: %+v", h)
	}
	msg = exchange(t, addr, dnsQueryPacket(1, "nothing.example.com", dnsTypeTXT, false))
	if h := header(msg); h.rcode != rcodeNXDomain || !h.aa || h.an != 0 || h.ns != 1 {
		t.Fatalf("NXDOMAIN header: %+v", h)
	}
	// www exists (A record) but has no TXT: NOERROR with no answer (NODATA), SOA in authority.
	msg = exchange(t, addr, dnsQueryPacket(2, "www.example.com", dnsTypeTXT, false))
	if h := header(msg); h.rcode != rcodeOK || h.an != 0 || h.ns != 1 {
		t.Fatalf("NODATA header: %+v", h)
	}
	// An empty non-terminal exists.
	msg = exchange(t, addr, dnsQueryPacket(3, "_dnsauth.example.com", dnsTypeTXT, false))
	if h := header(msg); h.rcode != rcodeNXDomain {
		// _dnsauth.example.com has no records below it, so it does not exist.
		t.Fatalf("empty name: %+v", h)
	}
	msg = exchange(t, addr, dnsQueryPacket(4, "example.com", dnsTypeSOA, false))
	if h := header(msg); h.rcode != rcodeOK || h.an != 1 || !h.aa {
		t.Fatalf("SOA header: %+v", h)
	}
	msg = exchange(t, addr, dnsQueryPacket(5, "example.org", dnsTypeTXT, false))
	if h := header(msg); h.rcode != rcodeRefused || h.aa {
		t.Fatalf("outside the zones: %+v", h)
	}
	msg = exchange(t, addr, dnsQueryPacket(6, "_dnsauth.www.example.com", dnsTypeTXT, true))
	if h := header(msg); h.ar != 1 || h.an != 2 {
		t.Fatalf("EDNS answer: %+v", h)
	}
	// Malformed: a question that runs off the end.
	bad := dnsQueryPacket(7, "www.example.com", dnsTypeTXT, false)
	msg = exchange(t, addr, bad[:20])
	if h := header(msg); h.rcode != rcodeFormErr || h.id != 7 {
		t.Fatalf("FORMERR: %+v", h)
	}
	// A non-query opcode.
	notify := dnsQueryPacket(8, "example.com", dnsTypeSOA, false)
	notify[2] |= 4 << 3
	if h := header(exchange(t, addr, notify)); h.rcode != rcodeNotImp {
		t.Fatalf("NOTIMP: %+v", h)
	}
}

func TestDNSAnswersNeverPanic(t *testing.T) {
	s, err := New(Config{AccessKeys: map[string]string{"a": "b"}, Zones: []string{"example.com"}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	q := dnsQueryPacket(9, "www.example.com", dnsTypeTXT, true)
	for i := 0; i <= len(q); i++ {
		_ = s.answerDNS(q[:i])
	}
	// A compression pointer in the question.
	ptr := append(dnsQueryPacket(10, "a", 16, false)[:12], 0xC0, 0x0C, 0, 16, 0, 1)
	if h := header(s.answerDNS(ptr)); h.rcode != rcodeFormErr {
		t.Fatalf("pointer: %+v", h)
	}
	// Responses are never answered.
	resp := dnsQueryPacket(11, "example.com", dnsTypeSOA, false)
	resp[2] |= 0x80
	if s.answerDNS(resp) != nil {
		t.Fatal("answered a response")
	}
}
