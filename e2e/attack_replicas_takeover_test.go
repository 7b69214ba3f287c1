package e2e

import (
	"fmt"
	"net/http"
	"testing"
)

// otherAgentToken is the token of a second agent, "other", in the
// replicas' configuration.
const otherAgentToken = "other-agent-token"

// TestAttackAnotherAgentCannotMoveASession: r0 serves a session of agent
// desk and dies (SIGKILL). Agent "other", with a valid token of its own,
// sends a request naming desk's session to r1. r1 must answer it as for a
// session that does not exist, without taking desk's session over first:
// which replica serves a session is for its own agent's requests to
// change. Before, r1 took the lease (epoch 2) and only then refused the
// request. desk's own next request is then served, through r2.
func TestAttackAnotherAgentCannotMoveASession(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	other := fmt.Sprintf("  - name: other\n    token_sha256: %s\n", hashToken(otherAgentToken))
	set := startReplicasWith(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld, replicaOpts{extra: other})
	c := connect(t, set.procs[0].url, pgAgentToken)
	sid := c.GetSessionId()
	if owner, _ := set.lease(t, sid); owner != "r0" {
		t.Fatalf("the session is held by %s, want r0", owner)
	}
	set.procs[0].kill(t)
	if st, body, _, err := ladderPost(nil, set.procs[1].url, otherAgentToken, sid, toolsList, nil); err != nil || st != http.StatusNotFound {
		t.Errorf("another agent's request naming desk's session: %d %s %v, want 404", st, body, err)
	}
	if owner, epoch := set.lease(t, sid); owner != "r0" || epoch != 1 {
		t.Errorf("the lease after another agent's request: %s at epoch %d, want r0 at 1 (untouched)", owner, epoch)
	}
	if st, body, _, err := ladderPost(nil, set.procs[2].url, pgAgentToken, sid, toolsList, nil); err != nil || st != http.StatusOK {
		t.Fatalf("desk's own request through r2: %d %s %v, want 200", st, body, err)
	}
	if owner, epoch := set.lease(t, sid); owner != "r2" || epoch != 2 {
		t.Errorf("the lease after desk's request: %s at epoch %d, want r2 at 2", owner, epoch)
	}
}
