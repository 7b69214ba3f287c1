package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/internal/ocsfschema"
	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/ocsf"
	"github.com/warden-dev/warden/sink"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// TestSIEMExportAcrossRestart is issue 10's proof for the live export: a
// real warden records real calls through a real MCP server; the sink
// POSTs them as OCSF to a SIEM on 127.0.0.1 that refuses the first
// attempts and then holds a batch while warden is stopped mid-stream (its
// store closed). After the restart, on the same history and cursor, every
// event of both runs arrives, the only duplicates are the lines of the
// batch that was in flight, and every line is valid OCSF 1.8.
func TestSIEMExportAcrossRestart(t *testing.T) {
	up := serveUpstream(t, demo.NewUpstream().Server())
	specs := []tools.Spec{{Name: "desk", URL: up}}
	agents := []supervisor.Agent{{Name: "support", TokenSHA256: hashToken(supportToken)}}
	dir := t.TempDir()
	dbPath, cursor := filepath.Join(dir, "warden.db"), filepath.Join(dir, "export-ocsf.cursor")
	siem := testkit.NewSIEM(t, 3, 2) // three 503s; the 2nd batch taken is held
	sinkOpts := sink.Options{To: sink.HTTP(siem.URL, nil), Cursor: cursor, Batch: 4, Interval: 5 * time.Millisecond,
		RetryMin: time.Millisecond, RetryMax: 10 * time.Millisecond, Grace: time.Millisecond}

	w := startWardenOn(t, dbPath, specs, agents)
	sinkOpts.History = w.Store
	stopSink := startSink(t, sinkOpts)
	c := connect(t, w.URL, supportToken)
	for _, msg := range []string{"one", "two", "three", "four", "five", "six"} {
		callTool(t, c, "echo", map[string]any{"message": msg})
	}
	siem.WaitHeld(t) // a batch is in flight: stop warden now
	stopSink()
	w.Stop()
	before := siem.Received()

	w2 := startWardenOn(t, dbPath, specs, agents)
	sinkOpts.History, sinkOpts.To = w2.Store, sink.HTTP(siem.URL, nil)
	stopSink = startSink(t, sinkOpts)
	c2 := connect(t, w2.URL, supportToken)
	for _, msg := range []string{"seven", "eight"} {
		callTool(t, c2, "echo", map[string]any{"message": msg})
	}
	siem.WaitFor(t, func() []string { return ocsfUIDs(t, w2.Store) })
	stopSink()

	got, want := siem.Received(), ocsfUIDs(t, w2.Store)
	if m := testkit.Missing(got, want); len(m) > 0 {
		t.Fatalf("missing after the restart: %v", m)
	}
	dups := testkit.Duplicates(got)
	if len(dups) == 0 || len(dups) > len(before) || !slices.Equal(dups, before[len(before)-len(dups):]) {
		t.Fatalf("sent twice: %v; want only the lines of the batch held at the stop (the last of %v)", dups, before)
	}
	for _, call := range []string{"one", "eight"} {
		if !hasCall(t, w2.Store, call) {
			t.Fatalf("the history has no call %q", call)
		}
	}
	schema, err := ocsfschema.Load(os.DirFS("../ocsf/testdata/ocsf-schema-" + ocsf.Version))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range bytes.Split(bytes.TrimSpace(ocsfLines(t, w2.Store)), []byte("\n")) {
		for _, err := range schema.Validate(line) {
			t.Errorf("line %d: %v", i+1, err)
		}
	}
}

// startSink runs a sink until the returned stop (or the test's end).
func startSink(t *testing.T, o sink.Options) (stop func()) {
	t.Helper()
	s, err := sink.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.Background(t, s.Run)
}

// historySessions is every session and the system log, if it has events.
func historySessions(t *testing.T, db *store.DB) []store.Session {
	t.Helper()
	list, err := db.Sessions(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if sys, err := db.Session(context.Background(), store.SystemLog); err == nil {
		list = append(list, sys)
	}
	return list
}

// ocsfUIDs is the uid of every OCSF line the history maps to now.
func ocsfUIDs(t *testing.T, db *store.DB) []string {
	t.Helper()
	return testkit.LineUIDs(ocsfLines(t, db))
}

// ocsfLines is the history as OCSF lines, as warden export writes it.
func ocsfLines(t *testing.T, db *store.DB) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, s := range historySessions(t, db) {
		evs, err := db.Events(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := ocsf.Write(&buf, s, evs); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

// hasCall says the history recorded an echo of msg.
func hasCall(t *testing.T, db *store.DB, msg string) bool {
	t.Helper()
	for _, s := range historySessions(t, db) {
		evs, err := db.Events(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == store.KindCall && bytes.Contains(e.Args, []byte(`"`+msg+`"`)) {
				return true
			}
		}
	}
	return false
}
