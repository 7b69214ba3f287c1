package e2e

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestAttackForwardedAddressIsTheRealOne: the replicas trust 127.0.0.1
// as a proxy (where they reach one another from, and where a TLS proxy
// passing the client's fingerprint in X-JA4 would be), not 127.0.0.2,
// where the agent connects from, directly. The agent opens its session on
// r0, then sends calls to r1 with X-Forwarded-For, Forwarded and X-JA4 of
// its choosing; r1 forwards them to r0 with the agent's headers. The
// owner must take the agent's address and fingerprint from r1's signed
// claim (r1 does not trust the agent's peer: its real address, no
// fingerprint), not from the copied headers that its trusted peer (r1)
// appears to vouch for: no address or fingerprint change is recorded,
// and the calls are served. Through the trusted proxy, the fingerprint
// r1 believes does reach the owner: its change is a signal there.
func TestAttackForwardedAddressIsTheRealOne(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 2, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld,
		replicaOpts{extra: "network: {trusted_proxies: [127.0.0.1/32], fingerprint_header: X-JA4}\n"})
	call := func(hc *http.Client, to int, sid string, id int, hdr map[string]string) {
		t.Helper()
		st, body, _, err := ladderPost(hc, set.procs[to].url, pgAgentToken, sid, toolCallBody(id, "echo", `{"message":"x"}`), hdr)
		if err != nil || st != http.StatusOK || !strings.Contains(body, `"x"`) {
			t.Fatalf("call %d through r%d: %d %s %v", id, to, st, body, err)
		}
	}
	spoofed := func(fp string) map[string]string {
		return map[string]string{"User-Agent": "agent/1", "X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9", "X-JA4": fp}
	}
	signals := func(sid string) []store.Event {
		t.Helper()
		evs, err := set.db.Events(t.Context(), sid)
		if err != nil {
			t.Fatal(err)
		}
		var out []store.Event
		for _, e := range evs {
			if e.Kind == store.KindSignal || bytes.Contains(e.Data, []byte("203.0.113.9")) || strings.Contains(strings.Join(e.Reasons, " "), "203.0.113.9") {
				out = append(out, e)
			}
		}
		return out
	}

	agent := clientFrom(t, "127.0.0.2")
	sid := rawSession(t, agent, set.procs[0].url, pgAgentToken, "agent/1")
	call(agent, 0, sid, 2, spoofed("t13d1516h2_aaaaaaaaaaaa_aaaaaaaaaaaa"))
	call(agent, 1, sid, 3, spoofed("t13d1516h2_bbbbbbbbbbbb_bbbbbbbbbbbb"))
	call(agent, 1, sid, 4, spoofed("t13d1516h2_cccccccccccc_cccccccccccc"))
	if owner, epoch := set.lease(t, sid); owner != "r0" || epoch != 1 {
		t.Fatalf("the lease: %s at %d, want r0 at 1 (the calls through r1 forwarded)", owner, epoch)
	}
	rec, err := set.db.Session(t.Context(), sid)
	if err != nil || !strings.HasPrefix(rec.RemoteAddr, "127.0.0.2:") {
		t.Fatalf("the session's recorded address: %+v %v, want 127.0.0.2", rec, err)
	}
	for _, e := range signals(sid) {
		t.Errorf("the agent's own headers reached the record: event %d %s %v %s", e.Seq, e.Kind, e.Reasons, e.Data)
	}

	// Through the trusted proxy (127.0.0.1), to r1: r1 believes the
	// fingerprint and vouches for it; its change is recorded at r0. (The
	// second session of the token from another address makes the change a
	// step-up: the call is held, and given up once the signal is seen.)
	proxy := clientFrom(t, "127.0.0.1")
	viaProxy := rawSession(t, proxy, set.procs[0].url, pgAgentToken, "agent/1")
	call(proxy, 1, viaProxy, 2, map[string]string{"User-Agent": "agent/1", "X-JA4": "t13d1516h2_8daaf6152771_b0da82dd1658"})
	changed := func() int {
		n := 0
		for _, e := range signals(viaProxy) {
			if bytes.Contains(e.Data, []byte(`"fingerprint_changed"`)) {
				n++
			}
		}
		return n
	}
	if n := changed(); n != 0 {
		t.Fatalf("%d fingerprint signals with one fingerprint", n)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, set.procs[1].url, strings.NewReader(toolCallBody(3, "echo", `{"message":"x"}`)))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{"Authorization": "Bearer " + pgAgentToken, "Mcp-Session-Id": viaProxy, "Mcp-Protocol-Version": "2025-11-25",
		"Content-Type": "application/json", "Accept": "application/json, text/event-stream", "User-Agent": "agent/1", "X-JA4": "t13d1715h2_5b57614c22b0_3d5424432f57"} {
		req.Header.Set(k, v)
	}
	go func() {
		if res, err := proxy.Do(req); err == nil {
			res.Body.Close()
		}
	}()
	waitFor(t, 20*time.Second, "the fingerprint's change, vouched for by r1, recorded at r0", func() bool { return changed() == 1 })
}
