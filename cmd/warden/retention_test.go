package main

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/warden-dev/warden/internal/testkit"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/config"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// serveWith runs warden on the demo upstream with configText plus extra
// (agent fields first, then top-level sections), and returns the app and
// its MCP URL; warden stops when the test ends or stop is called.
func serveWith(t *testing.T, agentExtra, topExtra string) (a *app, mcpURL string, stop func()) {
	t.Helper()
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfgPath, strings.Replace(configText(upURL, dir, ""), "    workflow: \n", agentExtra, 1)+topExtra)
	return serveConfig(t, cfgPath)
}

// serveConfig runs warden with the configuration file at cfgPath, as
// serveWith does.
func serveConfig(t *testing.T, cfgPath string) (a *app, mcpURL string, stop func()) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan *app, 1)
	urlc := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, log.New(os.Stderr), func(a *app, at endpoints) { ready <- a; urlc <- at.MCP })
	}()
	var stopped bool
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	select {
	case a = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	}
	return a, <-urlc, stop
}

func callTool(t *testing.T, url, tool string, args map[string]any) {
	t.Helper()
	c := dialAgent(t, url)
	req := mcp.CallToolRequest{}
	req.Params.Name, req.Params.Arguments = tool, args
	res, err := c.CallTool(context.Background(), req)
	if err != nil || res.IsError {
		t.Fatalf("%s: %v %+v", tool, err, res)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

// TestDigestOnlyResults: a tool whose results the agent records as a
// digest leaves only its size and SHA-256 in history; other tools keep
// their content.
func TestDigestOnlyResults(t *testing.T) {
	a, url, _ := serveWith(t, "    record_results: {default: full, tools: {\"read_*\": digest}}\n", "")
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	callTool(t, url, "list_files", map[string]any{})
	results := map[string]supervisor.ResultRecord{}
	sessions, err := a.db.Sessions(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range sessions {
		evs, err := a.db.Events(context.Background(), s.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if ev.Kind == store.KindResult {
				var rec supervisor.ResultRecord
				if err := json.Unmarshal(ev.Data, &rec); err != nil {
					t.Fatal(err)
				}
				results[ev.Tool] = rec
			}
		}
	}
	if r := results["read_file"]; r.Text != "" || r.Structured != nil || len(r.SHA256) != 64 || r.Bytes <= 0 {
		t.Errorf("read_file result recorded as %+v, want only a digest", r)
	}
	if r := results["list_files"]; r.Text == "" || r.SHA256 != "" {
		t.Errorf("list_files result recorded as %+v, want its content", r)
	}
}

// TestRetentionThroughServe: a running warden prunes an ended session on
// its schedule; verify then counts it as pruned, and the export checks.
func TestRetentionThroughServe(t *testing.T) {
	a, url, stop := serveWith(t, "", "session_idle_ttl: 200ms\nretention: {max_age: 1ms, export_dir: export, every: 50ms}\n")
	exportDir := a.cfg.Retention.ExportDir
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	testkit.WaitFor(t, 30*time.Second, "the session to be pruned", func() bool {
		rep, err := a.db.Verify(context.Background())
		return err == nil && rep.Pruned == 1
	})
	files, _ := filepath.Glob(filepath.Join(exportDir, "warden-export-*.jsonl"))
	if len(files) != 1 {
		t.Fatalf("export files %v, want one", files)
	}
	list, err := a.db.Sessions(context.Background(), store.Filter{Agent: "a"})
	if err != nil || len(list) != 1 {
		t.Fatalf("sessions = %v, %v", list, err)
	}
	db := dbPath(a.cfg)
	stop()

	out, err := printed((&verifyCmd{historyFlags: historyFlags{DB: db}}).Run)
	if err != nil || !strings.Contains(out, "(1 of them pruned by retention") {
		t.Fatalf("verify after the prune = %v:\n%s", err, out)
	}
	out, err = printed((&exportCheckCmd{File: files[0]}).Run)
	if err != nil || !strings.Contains(out, "intact: 1 sessions") {
		t.Fatalf("export check = %v:\n%s", err, out)
	}
	out, err = printed((&sessionsShowCmd{historyFlags: historyFlags{DB: db}, ID: list[0].ID}).Run)
	if err != nil || !strings.Contains(out, "were pruned by retention") {
		t.Fatalf("sessions show of the pruned session = %v:\n%s", err, out)
	}
}

// openHistory opens a new store in a temporary directory; the test
// closes it.
func openHistory(t *testing.T) (*store.DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "warden.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return db, path
}

// TestExportCommand writes a session with warden export and reads it
// back; a changed byte makes the check fail.
func TestExportCommand(t *testing.T) {
	ctx := context.Background()
	db, dbFile := openHistory(t)
	dir := filepath.Dir(dbFile)
	for _, id := range []string{"s1", "s2"} {
		if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "a"}); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := db.Append(ctx, id, store.Event{Kind: store.KindCall, Tool: "t", Args: json.RawMessage(`{"amount":10}`)}); err != nil {
				t.Fatal(err)
			}
		}
	}
	want, _ := db.Events(ctx, "s2")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "s2.jsonl")
	if err := (&exportWriteCmd{historyFlags: historyFlags{DB: dbFile}, Session: []string{"s2"}, Out: out}).Run(nil); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var got []store.ExportedSession
	err = store.ReadExport(f, func(x store.ExportedSession) error { got = append(got, x); return nil })
	f.Close()
	if err != nil || len(got) != 1 || got[0].Session.ID != "s2" || len(got[0].Events) != 3 || got[0].Events[2].Hash != want[2].Hash {
		t.Fatalf("export of s2 reads back as %+v, %v", got, err)
	}

	// Every session of the agent, to stdout.
	text, err := printed((&exportWriteCmd{historyFlags: historyFlags{DB: dbFile}, Agent: "a"}).Run)
	if err != nil || strings.Count(text, `{"session":`) != 2 || strings.Count(text, `{"event":`) != 6 {
		t.Fatalf("export --agent = %v:\n%s", err, text)
	}

	// The check notices an altered amount.
	raw, _ := os.ReadFile(out)
	writeFile(t, out, strings.Replace(string(raw), `"amount":10`, `"amount":99`, 1))
	_, err = printed((&exportCheckCmd{File: out}).Run)
	var ex exitError
	if !asExit(err, &ex) || ex.code != 1 || !strings.Contains(ex.msg, "hash mismatch") {
		t.Fatalf("check of an altered export = %v, want exit 1 and a hash mismatch", err)
	}
}

// fillAndPrune writes 30 ended sessions of 40 events of 2 KB each, two
// days old, and prunes them all.
func fillAndPrune(t *testing.T, db *store.DB, exportDir string) {
	t.Helper()
	ctx := context.Background()
	old := time.Now().Add(-48 * time.Hour)
	big := json.RawMessage(`{"q":"` + strings.Repeat("x", 2000) + `"}`)
	for i := range 30 {
		id := fmt.Sprintf("s%02d", i)
		if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "a", Started: old}); err != nil {
			t.Fatal(err)
		}
		for range 40 {
			if _, err := db.Append(ctx, id, store.Event{Kind: store.KindCall, Time: old, Args: big}); err != nil {
				t.Fatal(err)
			}
		}
		if err := db.UpdateSession(ctx, id, func(s *store.Session) error { s.State = store.StateEnded; return nil }); err != nil {
			t.Fatal(err)
		}
	}
	res, err := db.Prune(ctx, store.PruneOptions{ExportDir: exportDir,
		Policy: func(string) store.Retention { return store.Retention{MaxAge: time.Hour} }})
	if err != nil || res.Sessions != 30 {
		t.Fatalf("Prune = %+v, %v", res, err)
	}
}

// TestCompactCommandShrinksTheFile: after a prune, warden compact gives
// the space back and verify still finds every chain intact.
func TestCompactCommandShrinksTheFile(t *testing.T) {
	db, dbFile := openHistory(t)
	dir := filepath.Dir(dbFile)
	fillAndPrune(t, db, filepath.Join(dir, "export"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	out, err := printed((&compactCmd{DB: dbFile}).Run)
	if err != nil {
		t.Fatal(err)
	}
	after, err := os.Stat(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size() {
		t.Fatalf("compact left the file at %d bytes (was %d): %s", after.Size(), before.Size(), out)
	}
	t.Logf("%s", strings.TrimSpace(out))
	out, err = printed((&verifyCmd{historyFlags: historyFlags{DB: dbFile}}).Run)
	if err != nil || !strings.Contains(out, "30 of them pruned") {
		t.Fatalf("verify after compaction = %v:\n%s", err, out)
	}
}

// TestCompactsAtStart: warden with retention compacts a history file
// that is mostly free pages when it starts, and leaves it intact.
func TestCompactsAtStart(t *testing.T) {
	db, dbFile := openHistory(t)
	fillAndPrune(t, db, filepath.Join(filepath.Dir(dbFile), "export"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	before, err := os.Stat(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	cfgPath := filepath.Join(filepath.Dir(dbFile), "warden.yaml")
	writeFile(t, cfgPath, configText("http://127.0.0.1:1/mcp", filepath.Dir(dbFile), "")+"retention: {max_age: 720h, export_dir: export}\n")
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	var logs testkit.SyncBuffer
	a, err := assemble(cfg, log.NewWithOptions(&logs, log.Options{Level: log.InfoLevel}))
	if err != nil {
		t.Fatal(err)
	}
	rep, err := a.db.Verify(context.Background())
	a.close(context.Background())
	if err != nil || len(rep.Broken) != 0 || rep.Pruned != 30 {
		t.Fatalf("Verify after the start = %+v, %v", rep, err)
	}
	after, err := os.Stat(dbFile)
	if err != nil {
		t.Fatal(err)
	}
	if after.Size() >= before.Size() || !strings.Contains(logs.String(), "history compacted") {
		t.Fatalf("the file went from %d to %d bytes; logs:\n%s", before.Size(), after.Size(), logs.String())
	}
}
