package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestReplayRecordedTimes replays a session from a history file through a
// workflow that decides by the clock (max_duration 1m): each call is decided at its recorded time, from the
// recorded start, so replay gives the verdicts live traffic gave, and the
// report says that the policy reads the clock and how fast replay went.
func TestReplayRecordedTimes(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	path := filepath.Join(dir, "warden.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a", Started: t0, State: store.StateEnded}); err != nil {
		t.Fatal(err)
	}
	calls := []struct {
		tool, verdict string
		after         time.Duration
	}{
		{"read", "allow", 10 * time.Second},
		{"write", "allow", 20 * time.Second}, // 10s after the read
		{"write", "deny", 65 * time.Second},  // past max_duration from the start, not from the first call
	}
	for i, c := range calls {
		ev := store.Event{Kind: store.KindCall, CallID: fmt.Sprint(i), Tool: c.tool, Time: t0.Add(c.after), Verdict: c.verdict}
		if _, err := db.Append(ctx, "s1", ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wf := filepath.Join(dir, "wf.yaml")
	writeFile(t, wf, "agent: a\nbudget: {max_duration: 1m, on_exceed: deny}\nanytime: [r, w]\nsteps:\n  - {name: r, tool: read}\n  - {name: w, tool: write}\n")
	out, err := printed((&replayCmd{DB: path, Workflow: wf}).Run)
	if err != nil {
		t.Fatalf("replay: %v\n%s", err, out)
	}
	for _, want := range []string{
		"1 sessions, 3 calls replayed; 0 sessions decided differently",
		"time: the policy decides by the clock (budget.max_duration 1m0s)",
		"3 of 3 calls replayed at their recorded times\n",
		"replayed 3 calls in ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q:\n%s", want, out)
		}
	}
}
