package main

import (
	"context"
	"encoding/json"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestMigrateKeepsChains: `warden migrate` copies a bbolt history into
// PostgreSQL with every hash unchanged and everything else the history
// holds; `warden verify` on the PostgreSQL store then passes, and reports
// a row edited in the database afterwards.
func TestMigrateKeepsChains(t *testing.T) {
	url := testkit.Postgres(t)
	t.Setenv("WARDEN_PG_URL", url)
	dir := t.TempDir()
	from := filepath.Join(dir, "old.db")
	src := buildHistory(t, from)
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeFile(t, filepath.Join(dir, "wf.yaml"), strings.ReplaceAll(readWorkflow, "%s", "true"))
	writeFile(t, cfgPath, configText("http://127.0.0.1:9/mcp", dir, "wf.yaml")+"store: {postgres: {url_env: WARDEN_PG_URL}}\n")

	out, err := printed((&migrateCmd{Config: cfgPath, From: from}).Run)
	if err != nil {
		t.Fatalf("migrate: %v\n%s", err, out)
	}
	for _, want := range []string{"3 sessions", "1 approvals", "1 pins", "1 agent records", "1 baselines", "verified the copy"} {
		if !strings.Contains(out, want) {
			t.Errorf("migrate said %q; want %q in it", out, want)
		}
	}
	if strings.Contains(out, url) {
		t.Errorf("migrate printed the database URL: %s", out)
	}

	ctx := context.Background()
	dst, err := postgres.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	for _, id := range []string{"s1", "s2", store.SystemLog} {
		want, err := src.events(id)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.Events(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(want) || len(got) == 0 {
			t.Fatalf("%s: %d events copied, want %d", id, len(got), len(want))
		}
		for i := range got {
			if got[i].Hash != want[i].Hash || got[i].Prev != want[i].Prev || got[i].Seq != want[i].Seq {
				t.Errorf("%s event %d: %s/%s, want %s/%s", id, i, got[i].Prev, got[i].Hash, want[i].Prev, want[i].Hash)
			}
		}
	}
	if a, err := dst.Approval(ctx, "ap1"); err != nil || a.State != store.ApprovalApproved || a.DecidedBy != "alice" {
		t.Errorf("approval copied as %+v, %v", a, err)
	}
	if recs, err := dst.AgentRecords(ctx); err != nil || !recs["a"].Suspended {
		t.Errorf("agent records copied as %+v, %v", recs, err)
	}
	if s, err := dst.Session(ctx, "s2"); err != nil || s.State != store.StateKilled {
		t.Errorf("killed session copied as %+v, %v", s, err)
	}

	if out, err := printed((&verifyCmd{historyFlags: historyFlags{Config: cfgPath}}).Run); err != nil || !strings.Contains(out, "matching the session log") {
		t.Fatalf("verify of the copy: %v\n%s; want it intact, against the session log", err, out)
	}
	// A second migrate into the same database is refused, not merged.
	if _, err := printed((&migrateCmd{Config: cfgPath, From: from}).Run); err == nil || !strings.Contains(err.Error(), "already holds a history") {
		t.Errorf("a second migrate: %v; want it refused", err)
	}
	tamper(t, url, `UPDATE events SET body = convert_to(replace(convert_from(body, 'UTF8'), '"tool":"write"', '"tool":"wipe"'), 'UTF8') WHERE session = 's1'`)
	out, err = printed((&verifyCmd{historyFlags: historyFlags{Config: cfgPath}}).Run)
	var exit exitError
	if !errors.As(err, &exit) || exit.code != 1 || !strings.Contains(out+exit.msg, "session s1: first broken event 2: hash mismatch") {
		t.Fatalf("verify after an edit in the database: %v\n%s; want s1 reported altered, exit 1", err, out)
	}
	// A session deleted whole leaves chains that verify; the session log,
	// copied from the bbolt file, still holds its start and end.
	tamper(t, url, `DELETE FROM events WHERE session = 's2'; DELETE FROM sessions WHERE id = 's2'`)
	out, err = printed((&verifyCmd{historyFlags: historyFlags{Config: cfgPath}}).Run)
	if !errors.As(err, &exit) || !strings.Contains(out+exit.msg, "session s2: first broken event 1: the system log records the start of this session, but the session is gone: deleted") {
		t.Fatalf("verify after deleting a session whole: %v\n%s; want s2 reported deleted", err, out)
	}
}

// boltFile is a bbolt history written by the test, read back for comparison.
type boltFile struct {
	t    *testing.T
	path string
}

func (h boltFile) events(id string) ([]store.Event, error) {
	db, err := store.Open(h.path)
	if err != nil {
		return nil, err
	}
	defer db.Close()
	return db.Events(context.Background(), id)
}

// buildHistory writes a history with two sessions (one killed), a decided
// approval, a pin, a suspended agent and a baseline.
func buildHistory(t *testing.T, path string) boltFile {
	t.Helper()
	db, err := store.Open(path, store.WithSessionLog())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a"}))
	must(db.CreateSession(ctx, store.Session{ID: "s2", Agent: "a"}))
	for _, tool := range []string{"read", "write"} {
		_, err := db.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: tool, Args: json.RawMessage(`{"p":"<&>"}`)})
		must(err)
	}
	_, err = db.AppendWithData(ctx, "s2", store.Event{Kind: store.KindCall, Tool: "read"}, json.RawMessage(`{"node":"read"}`))
	must(err)
	_, err = db.Append(ctx, "s2", store.Event{Kind: store.KindKill})
	must(err)
	must(db.UpdateSession(ctx, "s2", func(s *store.Session) error { s.State = store.StateKilled; return nil }))
	must(db.CreateApproval(ctx, store.Approval{ID: "ap1", Session: "s1", Agent: "a", Tool: "write", Expires: now.Add(time.Hour)}))
	_, err = db.DecideApproval(ctx, "ap1", store.DecisionOnce, "alice", now)
	must(err)
	_, err = db.Pin(ctx, "desk/read", "h1")
	must(err)
	must(db.SetAgentSuspended(ctx, store.AgentRecord{Name: "a", Suspended: true, By: "admin"}))
	must(db.SaveBaseline(ctx, "a", json.RawMessage(`{"v":1}`)))
	must(db.Close())
	return boltFile{t: t, path: path}
}

// tamper runs sql on the database directly, as someone with its password could.
func tamper(t *testing.T, url, sql string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	tag, err := conn.Exec(ctx, sql)
	if err != nil || tag.RowsAffected() == 0 {
		t.Fatalf("tamper: %v (%d rows)", err, tag.RowsAffected())
	}
}
