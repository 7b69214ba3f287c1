package e2e

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/warden-dev/warden/store"
)

// TestAttackForwardedAddressIsTheRealOne: the replicas trust 127.0.0.1
// as a proxy (where they reach one another from), not 127.0.0.2, where
// the agent connects from, directly. The agent opens its session on r0,
// then sends a call to r1 with X-Forwarded-For and Forwarded naming an
// address of its choosing; r1 forwards it to r0 with the agent's headers.
// The owner must take the agent's address from r1's signed claim (the
// agent's real address: r1 does not trust the agent's peer), not from
// the copied headers that its trusted peer (r1) appears to vouch for: no
// address change is recorded, and the call is served.
func TestAttackForwardedAddressIsTheRealOne(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 2, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld,
		replicaOpts{extra: "network: {trusted_proxies: [127.0.0.1/32]}\n"})
	agent := clientFrom(t, "127.0.0.2")
	sid := rawSession(t, agent, set.procs[0].url, pgAgentToken, "agent/1")
	spoofed := map[string]string{"User-Agent": "agent/1", "X-Forwarded-For": "203.0.113.9", "Forwarded": "for=203.0.113.9"}
	for i, to := range []int{0, 1} {
		st, body, _, err := ladderPost(agent, set.procs[to].url, pgAgentToken, sid, toolCallBody(2+i, "echo", `{"message":"x"}`), spoofed)
		if err != nil || st != http.StatusOK || !strings.Contains(body, `"x"`) {
			t.Fatalf("the call through r%d: %d %s %v", to, st, body, err)
		}
	}
	if owner, epoch := set.lease(t, sid); owner != "r0" || epoch != 1 {
		t.Fatalf("the lease: %s at %d, want r0 at 1 (the call through r1 forwarded)", owner, epoch)
	}
	rec, err := set.db.Session(t.Context(), sid)
	if err != nil || !strings.HasPrefix(rec.RemoteAddr, "127.0.0.2:") {
		t.Fatalf("the session's recorded address: %+v %v, want 127.0.0.2", rec, err)
	}
	evs, err := set.db.Events(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == store.KindSignal || bytes.Contains(e.Data, []byte("203.0.113.9")) || strings.Contains(strings.Join(e.Reasons, " "), "203.0.113.9") {
			t.Fatalf("the spoofed address reached the record: event %d %s %v %s", e.Seq, e.Kind, e.Reasons, e.Data)
		}
	}
}
