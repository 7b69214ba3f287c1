package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// TestReplicaThatLostASessionCannotEndIt: r0 served a session, then r1
// took it over (as after a partition of r0 long enough for its heartbeat
// to expire: the lease is moved in the database, as a takeover moves it,
// since while r0 lives r1 forwards to it); r0's copy goes idle and r0
// ends it, but the store refuses that end (r0 lost the lease), so the
// session goes on through r1 and stays active on record.
func TestReplicaThatLostASessionCannotEndIt(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 2, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld, replicaOpts{extra: "session_idle_ttl: 2s\n"})
	first := dialBalanced(t, set.procs[0].url)
	sid := first.GetSessionId()
	echo := func(i int, msg string) {
		t.Helper()
		c := rejoin(t, set.procs[i].url, pgAgentToken, sid)
		if res := callTool(t, c, "echo", map[string]any{"message": msg}); res.IsError || resultText(res) != msg {
			t.Fatalf("echo %q through r%d: %s", msg, i, resultText(res))
		}
	}
	echo(0, "on r0")
	conn, err := pgx.Connect(t.Context(), set.pg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	if tag, err := conn.Exec(t.Context(), "UPDATE leases SET owner = 'r1', epoch = epoch + 1 WHERE session = $1 AND owner = 'r0'", sid); err != nil || tag.RowsAffected() != 1 {
		t.Fatalf("move the lease to r1: %v (%d rows)", err, tag.RowsAffected())
	}
	echo(1, "on r1, which now serves the session")
	// r1 keeps the session busy while r0's copy idles out and r0 ends it.
	ended := fmt.Sprintf(`"session":%q`, sid)
	for n := 0; ; n++ {
		echo(1, fmt.Sprintf("on r1 %d", n))
		if log := set.procs[0].stderr.String(); strings.Contains(log, `"msg":"session ended"`) && strings.Contains(log, ended) {
			break
		}
		if n > 200 {
			t.Fatal("r0 never ended its idle copy of the session")
		}
		time.Sleep(100 * time.Millisecond) // the agent's pace, not a wait for something
	}
	echo(1, "on r1 after r0 ended its copy")
	rec, err := set.db.Session(t.Context(), sid)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != store.StateActive {
		t.Fatalf("session %s is %s (%s) on record, want active: a replica that lost it ended it", sid, rec.State, rec.Reason)
	}
}
