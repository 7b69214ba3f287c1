package e2e

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/geo"
	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Geolocation behind a trusted proxy: the test plays the proxy. Its
// client connects from a loopback address and writes X-Forwarded-For
// with public addresses as data; nothing ever contacts them.

// The two public addresses whose countries the test reads from the MMDB
// data (it checks that they differ rather than assuming which they are).
const geoAddrA, geoAddrB = "8.8.8.8", "81.2.69.142"

// countryDB opens the country database that the npm package
// @ip-location-db/geo-whois-asn-country-mmdb ships (CC0-1.0; its data CC
// BY 4.0 by the NRO).
func countryDB(t *testing.T) (*geo.DB, string) {
	t.Helper()
	path := filepath.Join(nodeModules(t), "@ip-location-db", "geo-whois-asn-country-mmdb", "geo-whois-asn-country.mmdb")
	db, err := geo.Open(path, "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

// countryOf looks addr up, failing the test when the data has no country.
func countryOf(t *testing.T, db *geo.DB, addr string) string {
	t.Helper()
	p, err := db.Lookup(netip.MustParseAddr(addr))
	if err != nil || p.Country == "" {
		t.Fatalf("the MMDB data has no country for %s: %+v %v", addr, p, err)
	}
	return p.Country
}

// forwardingClient connects from local (a loopback address) and sets
// X-Forwarded-For to what xff holds, as a proxy in front of warden would.
func forwardingClient(t *testing.T, local string, xff *atomic.Pointer[string]) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(local)}, Timeout: 5 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set("X-Forwarded-For", *xff.Load())
		return tr.RoundTrip(r)
	})}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// geoLadder is a warden trusting 127.0.0.1 as its proxy, locating client
// addresses in the npm MMDB data, answering changes with onChange.
func geoLadder(t *testing.T, onChange warden.Verdict) (*ladder, *geo.DB) {
	t.Helper()
	db, _ := countryDB(t)
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.OnChange = onChange
		o.Network = supervisor.Network{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, Geo: db}
	})
	return l, db
}

// signalsOf returns a session's signal events.
func signalsOf(t *testing.T, l *ladder, sid string) []store.Event {
	t.Helper()
	evs, _ := l.timeline(t, sid)
	var out []store.Event
	for _, e := range evs {
		if e.Kind == store.KindSignal {
			out = append(out, e)
		}
	}
	return out
}

// TestGeoCountryChangeBehindTrustedProxy: a session that starts from a
// public address of one country (as its trusted proxy says) and goes on
// from one of another country records a signal with both countries and
// addresses, and is answered as revalidation.on_change says.
func TestGeoCountryChangeBehindTrustedProxy(t *testing.T) {
	cases := []struct {
		onChange warden.Verdict
		check    func(t *testing.T, l *ladder, sid string, st int, body, want string)
	}{
		{warden.Flag, func(t *testing.T, l *ladder, sid string, st int, body, want string) {
			if st != 200 || !strings.Contains(body, "echo: hi") {
				t.Fatalf("flagged call: %d %s, want it to go on", st, body)
			}
			l.Hook.wait(t, 10*time.Second, "call.flagged", func(m notify.Message) bool {
				return m.Type == notify.TypeCallFlagged && m.Session == sid && m.RemoteAddr == geoAddrB &&
					strings.Contains(strings.Join(m.Reasons, ";"), want)
			})
		}},
		{warden.Kill, func(t *testing.T, l *ladder, sid string, st int, body, want string) {
			if st != http.StatusNotFound {
				t.Fatalf("call from the other country: %d %s, want 404", st, body)
			}
			if rec, _ := l.Store.Session(t.Context(), sid); rec.State != store.StateKilled || !strings.Contains(rec.Reason, want) {
				t.Fatalf("session = %s (%s), want killed for the move", rec.State, rec.Reason)
			}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.onChange.String(), func(t *testing.T) {
			l, db := geoLadder(t, tc.onChange)
			ca, cb := countryOf(t, db, geoAddrA), countryOf(t, db, geoAddrB)
			if ca == cb {
				t.Fatalf("%s and %s are both in %s in this data; pick addresses in two countries", geoAddrA, geoAddrB, ca)
			}
			var xff atomic.Pointer[string]
			xff.Store(ptr("203.0.113.9, " + geoAddrA)) // the left hop is the client's own claim
			hc := forwardingClient(t, "127.0.0.1", &xff)
			sid := rawSession(t, hc, l.URL, opsToken, "agent/1.0")
			if rec, err := l.Store.Session(t.Context(), sid); err != nil || rec.RemoteAddr != geoAddrA {
				t.Fatalf("session's remote address = %q (%v), want %s from X-Forwarded-For", rec.RemoteAddr, err, geoAddrA)
			}
			send := func(id int) (int, string) {
				st, body, _, err := ladderPost(hc, l.URL, opsToken, sid, toolCallBody(id, "echo", `{"message":"hi"}`), map[string]string{"User-Agent": "agent/1.0"})
				if err != nil {
					t.Fatal(err)
				}
				return st, body
			}
			if st, body := send(1); st != 200 || !strings.Contains(body, "echo: hi") {
				t.Fatalf("call from %s: %d %s", geoAddrA, st, body)
			}
			if n := len(signalsOf(t, l, sid)); n != 0 {
				t.Fatalf("%d signals before the move", n)
			}
			xff.Store(ptr(geoAddrB))
			st, body := send(2)
			want := "client moved mid-session from " + ca + " (" + geoAddrA + ") to " + cb + " (" + geoAddrB + ")"
			tc.check(t, l, sid, st, body, want)

			sigs := signalsOf(t, l, sid)
			if len(sigs) != 1 {
				t.Fatalf("%d signal events, want 1", len(sigs))
			}
			e := sigs[0]
			if e.Verdict != tc.onChange.String() || len(e.Reasons) != 2 ||
				e.Reasons[0] != "remote address changed mid-session from "+geoAddrA+" to "+geoAddrB || e.Reasons[1] != want {
				t.Fatalf("signal event = %+v", e)
			}
			var data struct {
				ChangedHands bool `json:"changed_hands"`
				Geo          struct {
					From, To struct{ Addr, Country string }
				} `json:"geo"`
			}
			if err := json.Unmarshal(e.Data, &data); err != nil || !data.ChangedHands ||
				data.Geo.From.Addr != geoAddrA || data.Geo.From.Country != ca || data.Geo.To.Addr != geoAddrB || data.Geo.To.Country != cb {
				t.Fatalf("signal evidence = %s (%v)", e.Data, err)
			}
		})
	}
}

// TestGeoUntrustedPeerForwardingIgnored: a peer that is not a trusted
// proxy cannot choose its address by writing X-Forwarded-For: the session
// is where its socket is, and changing the header changes nothing.
func TestGeoUntrustedPeerForwardingIgnored(t *testing.T) {
	l, _ := geoLadder(t, warden.Kill)
	var xff atomic.Pointer[string]
	xff.Store(ptr(geoAddrA))
	hc := forwardingClient(t, "127.0.0.2", &xff)
	sid := rawSession(t, hc, l.URL, opsToken, "agent/1.0")
	rec, err := l.Store.Session(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if host, _, _ := net.SplitHostPort(rec.RemoteAddr); host != "127.0.0.2" {
		t.Fatalf("session's remote address = %q, want the socket's 127.0.0.2", rec.RemoteAddr)
	}
	xff.Store(ptr(geoAddrB))
	st, body, _, err := ladderPost(hc, l.URL, opsToken, sid, toolCallBody(1, "echo", `{"message":"hi"}`), map[string]string{"User-Agent": "agent/1.0"})
	if err != nil || st != 200 || !strings.Contains(body, "echo: hi") {
		t.Fatalf("call with another X-Forwarded-For: %d %s %v, want it to go on (kill is configured)", st, body, err)
	}
	if sigs := signalsOf(t, l, sid); len(sigs) != 0 {
		t.Fatalf("signals %+v from a header an untrusted peer wrote", sigs)
	}
	if rec, _ := l.Store.Session(context.Background(), sid); rec.State == store.StateKilled {
		t.Fatalf("session killed: %s", rec.Reason)
	}
}

func ptr(s string) *string { return &s }
