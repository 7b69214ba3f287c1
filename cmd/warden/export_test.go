package main

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/ocsfschema"
	"github.com/warden-dev/warden/store"
)

// ocsfSchemaDir is the OCSF schema the ocsf package ships as test data.
const ocsfSchemaDir = "../../ocsf/testdata/ocsf-schema-1.8.0"

// TestExportOCSF writes history with --format ocsf and --since: every
// line is valid OCSF, the old events are left out, the recent ones are
// all there; the same --since in jsonl still reads back as whole chains.
func TestExportOCSF(t *testing.T) {
	ctx := context.Background()
	db, dbFile := openHistory(t)
	t0 := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a", RemoteAddr: "127.0.0.1:4000", Started: t0}); err != nil {
		t.Fatal(err)
	}
	evs := []store.Event{
		{Kind: store.KindSessionStart, Time: t0},
		{Kind: store.KindCall, CallID: "1", Upstream: "u", Tool: "lookup", Verdict: "allow", Time: t0.Add(time.Minute)},
		{Kind: store.KindResult, CallID: "1", Upstream: "u", Tool: "lookup", OK: true, Time: t0.Add(2 * time.Minute)},
		{Kind: store.KindCall, CallID: "2", Upstream: "u", Tool: "refund", Verdict: "deny", Reasons: []string{"over limit"}, Time: t0.Add(time.Hour)},
		{Kind: store.KindSessionEnd, Reasons: []string{"closed"}, Time: t0.Add(2 * time.Hour)},
	}
	for _, e := range evs {
		if _, err := db.Append(ctx, "s1", e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Append(ctx, store.SystemLog, store.Event{Kind: store.KindToolChanged, Upstream: "u", Tool: "refund", Time: t0.Add(3 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	schema, err := ocsfschema.Load(os.DirFS(ocsfSchemaDir))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		since string
		want  []string // metadata.uid of each line
	}{
		{"", []string{"_system/1", "s1/1", "s1/2", "s1/3", "s1/4", "s1/4#finding", "s1/5"}},
		{t0.Add(30 * time.Minute).Format(time.RFC3339), []string{"_system/1", "s1/4", "s1/4#finding", "s1/5"}},
		{t0.Add(150 * time.Minute).Format(time.RFC3339), []string{"_system/1"}},
		{t0.Add(5 * time.Hour).Format(time.RFC3339), nil}, // a quiet period: an empty file
	}
	for _, tt := range tests {
		t.Run("since="+tt.since, func(t *testing.T) {
			f := exportTo(t, dbFile, "ocsf", tt.since)
			var got []string
			sc := bufio.NewScanner(f)
			for sc.Scan() {
				for _, err := range schema.Validate(sc.Bytes()) {
					t.Errorf("line %d: %v", len(got)+1, err)
				}
				var l struct {
					Metadata struct{ UID string } `json:"metadata"`
				}
				if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
					t.Fatal(err)
				}
				got = append(got, l.Metadata.UID)
			}
			if strings.Join(got, " ") != strings.Join(tt.want, " ") {
				t.Fatalf("lines %v, want %v", got, tt.want)
			}
		})
	}

	// jsonl with --since: the tail of each chain, still checkable.
	f := exportTo(t, dbFile, "jsonl", t0.Add(30*time.Minute).Format(time.RFC3339))
	var seqs []uint64
	err = store.ReadExport(f, func(x store.ExportedSession) error {
		for _, e := range x.Events {
			seqs = append(seqs, e.Seq)
		}
		return nil
	})
	if err != nil || len(seqs) != 2 || seqs[0] != 4 || seqs[1] != 5 {
		t.Fatalf("jsonl --since read back seqs %v, %v; want [4 5]", seqs, err)
	}
}

// exportTo runs warden export on dbFile into a file and opens it.
func exportTo(t *testing.T, dbFile, format, since string) *os.File {
	t.Helper()
	out := filepath.Join(t.TempDir(), "export.jsonl")
	cmd := exportWriteCmd{historyFlags: historyFlags{DB: dbFile}, Format: format, Since: since, Out: out}
	if err := cmd.Run(nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestParseSince(t *testing.T) {
	now := time.Date(2026, 11, 2, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		in      string
		want    time.Time
		wantErr bool
	}{
		{"", time.Time{}, false},
		{"2026-11-02T09:00:00Z", time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), false},
		{"24h", now.Add(-24 * time.Hour), false},
		{"-1h", time.Time{}, true},
		{"yesterday", time.Time{}, true},
	}
	for _, tt := range tests {
		got, err := parseSince(tt.in, now)
		if (err != nil) != tt.wantErr || !got.Equal(tt.want) {
			t.Errorf("parseSince(%q) = %v, %v; want %v (error: %v)", tt.in, got, err, tt.want, tt.wantErr)
		}
	}
}
