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
	// The same session as a trace: its start and call times in JSON.
	traces := filepath.Join(dir, "traces.jsonl")
	writeFile(t, traces, `{"id": "s1", "agent": "a", "started": "2026-03-01T09:00:00Z", "calls": [`+
		`{"tool": "read", "at": "2026-03-01T09:00:10Z"}, {"tool": "write", "at": "2026-03-01T09:00:20Z"}, {"tool": "write", "at": "2026-03-01T09:01:05Z"}]}`+"\n")
	tests := []struct {
		name    string
		cmd     replayCmd
		changed string // recorded verdicts are compared; a trace's with allow
	}{
		{"history", replayCmd{DB: path, Workflow: wf}, "0 sessions decided differently"},
		{"traces", replayCmd{Traces: traces, Workflow: wf}, "call 3 write: allow → deny"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := printed(tt.cmd.Run)
			if err != nil {
				t.Fatalf("replay: %v\n%s", err, out)
			}
			for _, want := range []string{
				"1 sessions, 3 calls replayed; ",
				tt.changed,
				"time: the policy decides by the clock (budget.max_duration 1m0s)",
				"3 of 3 calls replayed at their recorded times\n",
				"replayed 3 calls in ",
			} {
				if !strings.Contains(out, want) {
					t.Errorf("the report lacks %q:\n%s", want, out)
				}
			}
			if strings.Count(out, "→") > 1 {
				t.Errorf("more than the last call decided otherwise than live:\n%s", out)
			}
		})
	}
}
