package e2e

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestAttackForwardReplayedToTheOwner: a party on the network between
// the replicas captures a tools/call that r1 forwarded to r0, the
// session's owner (signature, body and the agent's token), and sends it
// to r0 again within the signature's minute. The owner served it once;
// the replay is refused, and the call reaches the upstream once.
func TestAttackForwardReplayedToTheOwner(t *testing.T) {
	set, sid := sessionOnR0(t)
	secret := clusterSecret(t, set.pg)
	const body = `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"echo","arguments":{"message":"replayed"}}}`
	captured := forwardedBy(secret, set.procs[1].url, "127.0.0.1:1", http.MethodPost, sid, body)
	if got := post(t, set.procs[0].url, sid, pgAgentToken, captured, body); got != http.StatusOK {
		t.Fatalf("the forwarded call at the owner: status %d, want 200", got)
	}
	if got := post(t, set.procs[0].url, sid, pgAgentToken, captured, body); got != http.StatusForbidden {
		t.Errorf("the same forwarded call replayed to the owner: status %d, want %d", got, http.StatusForbidden)
	}
	evs, err := set.db.Events(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	calls := 0
	for _, e := range evs {
		if e.Kind == store.KindCall && e.Tool == "echo" && strings.Contains(string(e.Args), "replayed") {
			calls++
		}
	}
	if calls != 1 {
		t.Fatalf("the captured call went ahead %d times, want once", calls)
	}
	waitFor(t, 10*time.Second, "the owner logging the replay it refused", func() bool {
		return strings.Contains(set.procs[0].stderr.String(), "served already: a replay")
	})
}
