package main

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/charmbracelet/log"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestVerifyAnchorOnPostgres: with store.postgres, warden checkpoints the
// database's heads to the anchor file; the database put back as it was
// after the first run (as restoring an older backup would) cuts the
// system chain back below the last checkpoint and lacks the second
// session. It still verifies on its own, but not against the anchor.
func TestVerifyAnchorOnPostgres(t *testing.T) {
	url := testkit.Postgres(t)
	t.Setenv("WARDEN_PG_URL", url)
	dir := t.TempDir()
	rollback := anchorRollback{
		snapshot: func(*app) {
			tamper(t, url, `CREATE TABLE approvals_then AS SELECT * FROM approvals; CREATE TABLE sessions_then AS SELECT * FROM sessions;
				CREATE TABLE events_then AS SELECT * FROM events`)
		},
		restore: func() {
			tamper(t, url, `DELETE FROM sessions; DELETE FROM events; DELETE FROM approvals;
				INSERT INTO approvals SELECT * FROM approvals_then; INSERT INTO sessions SELECT * FROM sessions_then;
				INSERT INTO events SELECT * FROM events_then`)
		},
		flags: func() historyFlags { return historyFlags{Config: filepath.Join(dir, "warden.yaml")} },
		wants: []string{"session _system: checkpointed at event", "cut, and its head rewritten to match", "the session is gone"},
	}
	rollback.run(t, dir, "store: {postgres: {url_env: WARDEN_PG_URL, replica: w-1}}\n")
}

// TestAnchorReplicasTakeTurns: two replicas' anchorers on one database
// and one anchor file. Only the one holding the anchor's lock writes; when
// it stops, the other takes over at its next checkpoint, continuing the
// file's chain of signatures, with every head.
func TestAnchorReplicasTakeTurns(t *testing.T) {
	url := testkit.Postgres(t)
	ctx := context.Background()
	cfg := &config.Anchor{File: filepath.Join(t.TempDir(), "checkpoints.jsonl"), Secret: config.Secret("0123456789abcdef0123456789abcdef"), Every: time.Hour}
	var dbs [2]*postgres.DB
	var ancs [2]*anchorer
	for i := range dbs {
		db, err := postgres.Open(ctx, url, postgres.WithReplica([]string{"w-1", "w-2"}[i]))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		dbs[i] = db
		// No loop: the test calls checkpoint itself.
		ancs[i] = &anchorer{db: db, lock: db.AnchorLock(), cfg: cfg, log: log.New(io.Discard), last: map[string]store.Head{}}
		t.Cleanup(func() { _ = ancs[i].lock.Close(ctx) })
	}
	lines := func() int {
		t.Helper()
		f, err := os.Open(cfg.File)
		if errors.Is(err, os.ErrNotExist) {
			return 0
		}
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		cps, _, err := store.ReadCheckpoints(f, cfg.Secret)
		if err != nil {
			t.Fatalf("the anchor file does not verify: %v", err)
		}
		return len(cps)
	}
	step := func(replica int, session string, want int) {
		t.Helper()
		if err := dbs[replica].CreateSession(ctx, store.Session{ID: session, Agent: "a"}); err != nil {
			t.Fatal(err)
		}
		if _, err := dbs[replica].Append(ctx, session, store.Event{Kind: store.KindCall, Tool: "t"}); err != nil {
			t.Fatal(err)
		}
		for _, a := range ancs {
			if err := a.checkpoint(ctx); err != nil {
				t.Fatal(err)
			}
		}
		if n := lines(); n != want {
			t.Fatalf("after %s: %d checkpoints in the file, want %d", session, n, want)
		}
	}
	step(0, "s1", 1) // replica 0 holds the lock; replica 1 writes nothing
	step(1, "s2", 2) // a session of replica 1's is checkpointed by replica 0
	if err := ancs[0].lock.Close(ctx); err != nil {
		t.Fatal(err)
	}
	ancs[0].lock = dbs[0].AnchorLock() // as a restarted replica 0
	step(1, "s3", 3)                   // replica 1 took over, linking to replica 0's last line
	f, err := os.Open(cfg.File)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	cps, _, err := store.ReadCheckpoints(f, cfg.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cps[2].Heads); got != 4 { // s1, s2, s3 and the system log: all of them, from the new holder
		t.Fatalf("the new holder's first checkpoint lists %d heads, want 4: %+v", got, cps[2].Heads)
	}
}
