package e2e

import (
	"net/http"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestAttackKilledSessionStaysKilledOnEveryReplica: r0 serves a session
// and the operator kills it through r1's admin API. The agent's very next
// requests, sent at once (before any change-feed poll) to each replica,
// the one that does not serve the session and has never seen it (r2)
// included, are refused as for a session that does not exist: the kill
// took the lease (r1 recorded it under its own epoch), so no replica
// resumes the session, and its chain records no resumption after the kill.
func TestAttackKilledSessionStaysKilledOnEveryReplica(t *testing.T) {
	set, sid := sessionOnR0(t)
	admin := testkit.Admin{Base: adminBase(t, set.procs[1]), Token: pgAdminToken}
	if st, body := admin.Do(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", map[string]string{"reason": "attack test", "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("kill on r1: %d %s", st, body)
	}
	for _, i := range []int{2, 0, 1} {
		if st, body, _, err := ladderPost(nil, set.procs[i].url, pgAgentToken, sid, toolsList, nil); err != nil || st != http.StatusNotFound {
			t.Errorf("the killed session through r%d: %d %s %v, want 404", i, st, body, err)
		}
	}
	ctx := t.Context()
	if s, err := set.db.Session(ctx, sid); err != nil || s.State != store.StateKilled {
		t.Fatalf("the killed session on record: %+v %v", s, err)
	}
	evs, err := set.db.Events(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		for _, r := range ev.Reasons {
			if r == "session resumed after warden restarted" {
				t.Errorf("event %d: the killed session was resumed on some replica", ev.Seq)
			}
		}
	}
	if owner, _ := set.lease(t, sid); owner != "r1" {
		t.Errorf("the lease after the kill: %s, want r1 (which recorded the kill)", owner)
	}
}
