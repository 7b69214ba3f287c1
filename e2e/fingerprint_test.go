package e2e

import (
	"bytes"
	"net/http"
	"net/netip"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// TestTLSFingerprintChangeIsASignal: behind a trusted proxy that passes
// the client's TLS fingerprint, a change of fingerprint mid-session is a
// fingerprint_changed signal; the header from a peer that is not a
// trusted proxy is ignored.
func TestTLSFingerprintChangeIsASignal(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Network = supervisor.Network{TrustedProxies: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, FingerprintHeader: "X-JA4"}
		o.Escalation.ApprovalTimeout = 200 * time.Millisecond // the second session is a reused token: its calls may step up
	})
	send := func(hc *http.Client, sid, fp string) {
		t.Helper()
		st, body, _, err := ladderPost(hc, l.URL, opsToken, sid, toolCallBody(2, "echo", `{"message":"x"}`), map[string]string{"User-Agent": "agent/1", "X-JA4": fp})
		if err != nil || st != http.StatusOK {
			t.Fatalf("%d %s %v", st, body, err)
		}
	}
	signals := func(sid string) int {
		evs, _ := l.timeline(t, sid)
		n := 0
		for _, e := range evs {
			if e.Kind == store.KindSignal && bytes.Contains(e.Data, []byte(`"fingerprint_changed"`)) {
				n++
			}
		}
		return n
	}
	proxy := clientFrom(t, "127.0.0.1")
	sid := rawSession(t, proxy, l.URL, opsToken, "agent/1")
	send(proxy, sid, "t13d1516h2_8daaf6152771_b0da82dd1658")
	send(proxy, sid, "t13d1516h2_8daaf6152771_b0da82dd1658")
	if n := signals(sid); n != 0 {
		t.Fatalf("%d fingerprint signals with one fingerprint", n)
	}
	send(proxy, sid, "t13d1715h2_5b57614c22b0_3d5424432f57")
	if n := signals(sid); n != 1 {
		t.Fatalf("%d fingerprint signals after the fingerprint changed, want 1", n)
	}

	direct := clientFrom(t, "127.0.0.2")
	other := rawSession(t, direct, l.URL, opsToken, "agent/1")
	send(direct, other, "aaa")
	send(direct, other, "bbb")
	if n := signals(other); n != 0 {
		t.Fatalf("an untrusted peer's fingerprint header was believed: %d signals", n)
	}
}
