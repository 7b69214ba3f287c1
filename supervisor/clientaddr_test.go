package supervisor

import (
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

var testProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}

// TestClientAddr: the right-most untrusted hop of a trusted proxy's
// header, the peer otherwise, and the peer with an error for a trusted
// proxy's malformed header.
func TestClientAddr(t *testing.T) {
	cases := []struct {
		name, peer string
		xff, fwd   []string
		want       string
		bad        bool
	}{
		{"no header", "127.0.0.1:5000", nil, nil, "127.0.0.1:5000", false},
		{"untrusted peer ignored", "127.0.0.2:5000", []string{"8.8.8.8"}, nil, "127.0.0.2:5000", false},
		{"untrusted peer malformed ignored", "127.0.0.2:5000", []string{"junk"}, nil, "127.0.0.2:5000", false},
		{"one hop", "127.0.0.1:5000", []string{"8.8.8.8"}, nil, "8.8.8.8", false},
		{"client-written left hop ignored", "127.0.0.1:5000", []string{"1.2.3.4, 8.8.8.8"}, nil, "8.8.8.8", false},
		{"trusted hops skipped", "127.0.0.1:5000", []string{"1.2.3.4, 8.8.8.8, 10.1.2.3"}, nil, "8.8.8.8", false},
		{"several header lines in order", "127.0.0.1:5000", []string{"1.2.3.4", "8.8.8.8", "10.0.0.9"}, nil, "8.8.8.8", false},
		{"all trusted: left-most", "127.0.0.1:5000", []string{"10.0.0.1, 10.0.0.2"}, nil, "10.0.0.1", false},
		{"port and brackets", "127.0.0.1:5000", []string{"[2001:db8::1]:443, 9.9.9.9:80"}, nil, "9.9.9.9", false},
		{"mapped unmapped", "[::ffff:127.0.0.1]:5000", []string{"::ffff:8.8.8.8"}, nil, "8.8.8.8", false},
		{"ipv6 proxy", "[fd00::1]:5000", []string{"2001:db8::7"}, nil, "2001:db8::7", false},
		{"forwarded", "127.0.0.1:5000", nil, []string{`for=1.2.3.4, for="[2001:db8::1]:4711";proto=https, For=10.0.0.3`}, "2001:db8::1", false},
		{"forwarded quoted by", "127.0.0.1:5000", nil, []string{`by="a;b,c";for=8.8.8.8`}, "8.8.8.8", false},
		{"both agree", "127.0.0.1:5000", []string{"8.8.8.8"}, []string{"for=8.8.8.8"}, "8.8.8.8", false},
		{"both disagree", "127.0.0.1:5000", []string{"8.8.8.8"}, []string{"for=1.1.1.1"}, "127.0.0.1:5000", true},
		{"empty", "127.0.0.1:5000", []string{""}, nil, "127.0.0.1:5000", true},
		{"not an address", "127.0.0.1:5000", []string{"8.8.8.8, evil.example"}, nil, "127.0.0.1:5000", true},
		{"zone", "127.0.0.1:5000", []string{"fe80::1%eth0"}, nil, "127.0.0.1:5000", true},
		{"forwarded unknown", "127.0.0.1:5000", nil, []string{"for=unknown"}, "127.0.0.1:5000", true},
		{"forwarded obfuscated", "127.0.0.1:5000", nil, []string{`for="_hidden"`}, "127.0.0.1:5000", true},
		{"forwarded no for", "127.0.0.1:5000", nil, []string{"proto=https"}, "127.0.0.1:5000", true},
		{"forwarded two for", "127.0.0.1:5000", nil, []string{"for=1.1.1.1;for=8.8.8.8"}, "127.0.0.1:5000", true},
		{"forwarded unterminated", "127.0.0.1:5000", nil, []string{`for="8.8.8.8`}, "127.0.0.1:5000", true},
		{"too many hops", "127.0.0.1:5000", []string{strings.Repeat("8.8.8.8,", maxHops) + "8.8.8.8"}, nil, "127.0.0.1:5000", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := http.Header{}
			for _, v := range c.xff {
				h.Add("X-Forwarded-For", v)
			}
			for _, v := range c.fwd {
				h.Add("Forwarded", v)
			}
			got, err := clientAddr(c.peer, h, testProxies)
			if got != c.want || (err != nil) != c.bad {
				t.Errorf("clientAddr = %q, %v; want %q, error %v", got, err, c.want, c.bad)
			}
		})
	}
}

// FuzzClientAddr: whatever a trusted proxy forwards, the answer is the
// peer or an address that the header itself carries, and never a
// trusted one unless every hop is trusted.
func FuzzClientAddr(f *testing.F) {
	for _, s := range []string{"8.8.8.8", "1.2.3.4, 8.8.8.8, 10.0.0.1", `for="[2001:db8::1]:80";by=x, for=10.0.0.2`, "", ",", `for="\"`, "[::1]:80", "unknown"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, v string, forwarded bool) {
		h := http.Header{}
		name := "X-Forwarded-For"
		parse := parseXFF
		if forwarded {
			name, parse = "Forwarded", parseForwarded
		}
		h.Set(name, v)
		const peer = "127.0.0.1:5000"
		got, err := clientAddr(peer, h, testProxies)
		if err != nil || got == peer {
			return
		}
		a, perr := netip.ParseAddr(got)
		if perr != nil {
			t.Fatalf("clientAddr(%q) = %q, not an address", v, got)
		}
		chain, cerr := parse(v)
		if cerr != nil || !slices.Contains(chain, a) {
			t.Fatalf("clientAddr(%q) = %q, not one of the header's hops %v (%v)", v, got, chain, cerr)
		}
		if isTrusted(a, testProxies) && slices.ContainsFunc(chain, func(c netip.Addr) bool { return !isTrusted(c, testProxies) }) {
			t.Fatalf("clientAddr(%q) = trusted %q although %v has an untrusted hop", v, got, chain)
		}
	})
}
