package main

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// TestBaselineShow: with nothing saved, show learns the agent's baseline
// from its ended sessions in the history file (a killed one left out);
// once warden saved one, show prints that. --json gives the same figures.
func TestBaselineShow(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "warden.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	start := time.Date(2026, 11, 30, 9, 0, 0, 0, time.UTC)
	sessions := []struct {
		id, state string
		tools     []string
	}{
		{"s1", store.StateEnded, []string{"search", "read"}},
		{"s2", store.StateEnded, []string{"search", "read", "read"}},
		{"s3", store.StateKilled, []string{"exfiltrate"}},
	}
	for i, s := range sessions {
		at := start.Add(time.Duration(i) * time.Hour)
		if err := db.CreateSession(ctx, store.Session{ID: s.id, Agent: "ops", Started: at, State: s.state}); err != nil {
			t.Fatal(err)
		}
		for j, tool := range s.tools {
			cid := fmt.Sprint(s.id, j)
			for _, kind := range []string{store.KindCall, store.KindResult} {
				if _, err := db.Append(ctx, s.id, store.Event{Kind: kind, CallID: cid, Tool: tool, Size: 300}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	show := func(asJSON bool) string {
		t.Helper()
		out, err := printed((&baselineShowCmd{historyFlags: historyFlags{DB: path, JSON: asJSON}, Agent: "ops"}).Run)
		if err != nil {
			t.Fatalf("baseline show: %v\n%s", err, out)
		}
		return out
	}
	out := show(false)
	for _, want := range []string{"baseline learned from history, 2 sessions, 5 calls (learning", "read -> read", "search -> read", "under 512 bytes"} {
		if !strings.Contains(out, want) {
			t.Errorf("show without a saved baseline lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "exfiltrate") {
		t.Errorf("a killed session's tool is in the baseline:\n%s", out)
	}

	db, err = store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := db.SaveBaseline(ctx, "ops", []byte(`{"agent":"ops","sessions":9,"calls":40,"tools":{"lookup":40},"transitions":{"lookup -> lookup":39},"max_calls_per_minute":7}`)); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	var shown struct {
		Source       string
		Sessions     int
		Learning     bool
		MaxPerMinute int `json:"max_calls_per_minute"`
		Tools        map[string]int
	}
	if err := json.Unmarshal([]byte(show(true)), &shown); err != nil {
		t.Fatal(err)
	}
	if shown.Source != "saved" || shown.Sessions != 9 || shown.Learning || shown.MaxPerMinute != 7 || shown.Tools["lookup"] != 40 {
		t.Fatalf("show --json with a saved baseline: %+v", shown)
	}
}
