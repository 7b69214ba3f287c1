package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// moveBack moves s2's head back to event 3 and deletes its event 4: the
// chain and the row agree, only the end on the system log does not.
const moveBack = `DELETE FROM events WHERE session = 's2' AND seq = 4;
	UPDATE sessions SET body = convert_to(jsonb_set(jsonb_set(convert_from(body, 'UTF8')::jsonb, '{last_seq}', '3'), '{head}',
		(SELECT convert_from(body, 'UTF8')::jsonb -> 'hash' FROM events WHERE session = 's2' AND seq = 3))::text, 'UTF8') WHERE id = 's2'`

// TestSessionLogFindsTampering edits the tables as someone with the
// database's password could, in ways every session's own chain survives,
// and checks that Verify names the session and why, from the session log.
// Each case gets a fresh database with s1 (active, three events, an
// approval) and s2 (killed after four events).
func TestSessionLogFindsTampering(t *testing.T) {
	base := testkit.Postgres(t)
	type want = wantBreak
	cases := []struct {
		name, sql string
		want      []want
	}{
		{"a session deleted whole", `DELETE FROM events WHERE session = 's1'; DELETE FROM sessions WHERE id = 's1'`, []want{
			{"s1", 1, "the session is gone: deleted"},
			{"s1", 0, "approval ap1 names this session, which does not exist"},
		}},
		{"a session and its approval deleted whole", `DELETE FROM events WHERE session = 's1'; DELETE FROM sessions WHERE id = 's1'; DELETE FROM approvals WHERE session = 's1'`, []want{
			{"s1", 1, "the session is gone: deleted"},
		}},
		{"an ended session's head moved back", moveBack, []want{
			{"s2", 4, "recorded this session's end at event 4, but its chain now ends at event 3: cut"},
		}},
		{"a session's start deleted from the log", `DELETE FROM events WHERE session = '_system' AND seq = 1`, []want{
			{store.SystemLog, 1, "event 1 is missing"},
			{"s1", 1, "no start on the system log"},
			{"s2", 1, "no start on the system log"},
		}},
		{"a session put in behind warden's back", "", []want{
			{"s3", 1, "no start on the system log: recorded outside warden"},
		}},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			verifyTampered(t, base, fmt.Sprintf("sessionlog_%d", i), tc.sql, tc.want)
		})
	}
}

// wantBreak is a break Verify must report: the session, the event (0:
// none in particular) and part of the reason.
type wantBreak struct {
	session string
	seq     uint64
	reason  string
}

// verifyTampered writes twoSessions in a fresh database name, edits it
// with sql (or, when sql is empty, copies a forged s3 in), and checks that
// Verify reports exactly want.
func verifyTampered(t *testing.T, base, name, sql string, want []wantBreak) {
	t.Helper()
	db := openFresh(t, base, name)
	ctx := context.Background()
	twoSessions(t, db)
	if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) != 0 || !rep.SessionLog {
		t.Fatalf("before: %+v, %v", rep, err)
	}
	if sql == "" {
		copySession(t, base, name, "s3")
	} else {
		execOn(t, base, name, sql)
	}
	rep, err := db.Verify(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, w := range want {
		found := false
		for _, b := range rep.Broken {
			found = found || b.Session == w.session && b.Seq == w.seq && strings.Contains(b.Reason, w.reason)
		}
		if !found {
			t.Errorf("Verify found %+v; want %s broken at %d: ...%s...", rep.Broken, w.session, w.seq, w.reason)
		}
	}
	if len(rep.Broken) != len(want) {
		t.Errorf("Verify found %d breaks %+v; want %d", len(rep.Broken), rep.Broken, len(want))
	}
}

// copySession writes session id, with a chain that verifies, in a
// database of its own, and copies its row and events into database name,
// as someone forging a session with the password and warden's code could.
func copySession(t *testing.T, base, name, id string) {
	t.Helper()
	ctx := context.Background()
	other := openFresh(t, base, name+"_forge")
	if err := other.CreateSession(ctx, store.Session{ID: id, Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Append(ctx, id, store.Event{Kind: store.KindCall, Tool: "forged"}); err != nil {
		t.Fatal(err)
	}
	src, err := pgx.Connect(ctx, dbURL(t, base, name+"_forge"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close(ctx)
	dst, err := pgx.Connect(ctx, dbURL(t, base, name))
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close(ctx)
	for _, table := range []string{"sessions", "events"} {
		col := map[string]string{"sessions": "id", "events": "session"}[table]
		rows, err := src.Query(ctx, "SELECT * FROM "+table+" WHERE "+col+" = $1", id)
		if err != nil {
			t.Fatal(err)
		}
		cols := []string{}
		for _, f := range rows.FieldDescriptions() {
			cols = append(cols, f.Name)
		}
		n, err := dst.CopyFrom(ctx, pgx.Identifier{table}, cols, rows2src{rows})
		if err != nil || n == 0 {
			t.Fatalf("copy %s: %v (%d rows)", table, err, n)
		}
	}
}

// rows2src feeds query rows to CopyFrom.
type rows2src struct{ pgx.Rows }

func (r rows2src) Values() ([]any, error) { return r.Rows.Values() }

// twoSessions writes s1 (active, three events, a pending approval) and s2
// (four events, then killed).
func twoSessions(t *testing.T, db store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, id := range []string{"s1", "s2"} {
		if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "a"}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 4 {
		for _, id := range []string{"s1", "s2"} {
			if id == "s1" && i == 3 {
				continue
			}
			if _, err := db.Append(ctx, id, store.Event{Kind: store.KindCall, Tool: fmt.Sprint("t", i)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := db.UpdateSession(ctx, "s2", func(s *store.Session) error { s.State = store.StateKilled; return nil }); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateApproval(ctx, store.Approval{ID: "ap1", Session: "s1", Agent: "a", Tool: "t1", Expires: time.Now().Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
}

// TestSessionLogTwoReplicas: two stores on one database, as two replicas,
// create, append to and end sessions at once; the session log stays one
// linear chain with every start and end on it, each session's own appends
// are still fenced by its lease, and Verify finds nothing wrong.
func TestSessionLogTwoReplicas(t *testing.T) {
	base := testkit.Postgres(t)
	db1 := openFresh(t, base, "replicas")
	db2, err := postgres.Open(context.Background(), dbURL(t, base, "replicas"), postgres.WithReplica("r2"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db2.Close() })
	db1r, err := postgres.Open(context.Background(), dbURL(t, base, "replicas"), postgres.WithReplica("r1"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db1r.Close() })
	ctx := context.Background()
	const perReplica = 20
	var wg sync.WaitGroup
	errs := make(chan error, 2*perReplica)
	for r, db := range []*postgres.DB{db1r, db2} {
		for i := range perReplica {
			wg.Add(1)
			go func() {
				defer wg.Done()
				id := fmt.Sprintf("r%d-%d", r+1, i)
				if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "a"}); err != nil {
					errs <- err
					return
				}
				if _, err := db.Append(ctx, id, store.Event{Kind: store.KindCall, Tool: "t"}); err != nil {
					errs <- err
					return
				}
				if i%2 == 0 {
					errs <- db.UpdateSession(ctx, id, func(s *store.Session) error { s.State = store.StateEnded; return nil })
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	// Fencing still holds: r2 takes over one of r1's sessions, and r1's
	// next append to it is refused.
	if _, err := db2.Acquire(ctx, "r1-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db1r.Append(ctx, "r1-1", store.Event{Kind: store.KindCall, Tool: "late"}); err == nil || !strings.Contains(err.Error(), "lease") {
		t.Fatalf("append by the replica that lost the lease: %v; want it refused", err)
	}

	sys, err := db1.Events(ctx, store.SystemLog)
	if err != nil {
		t.Fatal(err)
	}
	starts, ends := map[string]int{}, 0
	prev := ""
	for i, ev := range sys {
		if ev.Seq != uint64(i+1) || ev.Prev != prev {
			t.Fatalf("system log event %d: seq %d, prev %.8s after %.8s: not one linear chain", i+1, ev.Seq, ev.Prev, prev)
		}
		prev = ev.Hash
		switch ev.Kind {
		case store.KindSessionStart:
			starts[string(ev.Data)]++
		case store.KindSessionEnd:
			ends++
		}
	}
	if len(starts) != 2*perReplica || ends != perReplica || len(sys) != 2*perReplica+perReplica {
		t.Fatalf("system log: %d events, %d distinct starts, %d ends; want %d starts and %d ends", len(sys), len(starts), ends, 2*perReplica, perReplica)
	}
	rep, err := db1.Verify(ctx)
	if err != nil || len(rep.Broken) != 0 || !rep.SessionLog {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// TestSessionLogAdoptsEarlierSessions: a database written before the
// session log (migration 0006 not applied) gets its sessions put on the
// log once, with their heads, when it is opened; from then on a session
// deleted whole, or an ended one cut back, is caught as for any other.
func TestSessionLogAdoptsEarlierSessions(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	for i, tamper := range []struct{ sql, session, reason string }{
		{`DELETE FROM events WHERE session = 's1'; DELETE FROM sessions WHERE id = 's1'; DELETE FROM approvals`, "s1", "the session is gone: deleted"},
		{moveBack, "s2", "recorded this session's end at event 4, but its chain now ends at event 3"},
	} {
		name := fmt.Sprintf("adopt_%d", i)
		db := openFresh(t, base, name)
		twoSessions(t, db)
		// Back to what a database of an earlier warden holds: no session
		// log, and migration 0006 not applied.
		execOn(t, base, name, `DELETE FROM events WHERE session = '_system'; DELETE FROM sessions WHERE id = '_system'; DELETE FROM warden_migrations WHERE version = 6`)
		if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) != 2 {
			t.Fatalf("before adoption: %+v, %v; want s1 and s2 reported without a start", rep, err)
		}
		for range 2 { // the second Open adopts nothing more
			again, err := postgres.Open(ctx, dbURL(t, base, name))
			if err != nil {
				t.Fatal(err)
			}
			_ = again.Close()
		}
		sys, err := db.Events(ctx, store.SystemLog)
		if err != nil || len(sys) != 1 || sys[0].Kind != store.KindSessionsAdopted {
			t.Fatalf("system log after adoption: %+v, %v; want one sessions_adopted event", sys, err)
		}
		if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) != 0 || !rep.SessionLog {
			t.Fatalf("after adoption: %+v, %v", rep, err)
		}
		execOn(t, base, name, tamper.sql)
		rep, err := db.Verify(ctx)
		if err != nil || len(rep.Broken) != 1 || rep.Broken[0].Session != tamper.session || !strings.Contains(rep.Broken[0].Reason, tamper.reason) {
			t.Fatalf("after tampering: %+v, %v; want %s: ...%s...", rep.Broken, err, tamper.session, tamper.reason)
		}
	}
}

// TestImportAdoptsUnloggedSessions: a bbolt history written without the
// session log (store.Open without WithSessionLog) is imported with its
// sessions adopted onto the log, so the copy verifies and a session
// deleted from it afterwards is caught.
func TestImportAdoptsUnloggedSessions(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	src, err := store.Open(filepath.Join(t.TempDir(), "old.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	twoSessions(t, src)
	dst := openFresh(t, base, "import_unlogged")
	if _, err := dst.Import(ctx, src); err != nil {
		t.Fatal(err)
	}
	if rep, err := dst.Verify(ctx); err != nil || len(rep.Broken) != 0 || !rep.SessionLog {
		t.Fatalf("the copy: %+v, %v", rep, err)
	}
	execOn(t, base, "import_unlogged", `DELETE FROM events WHERE session = 's2'; DELETE FROM sessions WHERE id = 's2'`)
	rep, err := dst.Verify(ctx)
	if err != nil || len(rep.Broken) != 1 || rep.Broken[0].Session != "s2" || !strings.Contains(rep.Broken[0].Reason, "gone: deleted") {
		t.Fatalf("after deleting s2: %+v, %v; want s2 reported deleted", rep.Broken, err)
	}
}

// TestSessionLogAdoptsNothingOnceKept: migration 0006 run again (its row
// in warden_migrations deleted) on a database that keeps the session log
// adopts nothing, so a session put in behind warden's back stays reported
// rather than being taken in.
func TestSessionLogAdoptsNothingOnceKept(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	db := openFresh(t, base, "adopt_kept")
	twoSessions(t, db)
	copySession(t, base, "adopt_kept", "s3")
	execOn(t, base, "adopt_kept", `DELETE FROM warden_migrations WHERE version = 6`)
	again, err := postgres.Open(ctx, dbURL(t, base, "adopt_kept"))
	if err != nil {
		t.Fatal(err)
	}
	_ = again.Close()
	rep, err := db.Verify(ctx)
	if err != nil || len(rep.Broken) != 1 || rep.Broken[0].Session != "s3" || !strings.Contains(rep.Broken[0].Reason, "no start on the system log") {
		t.Fatalf("Verify: %+v, %v; want s3 reported without a start", rep.Broken, err)
	}
}
