package main

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// copyFiles copies each of names from src to dst (directories).
func copyFiles(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	for _, n := range names {
		in, err := os.Open(filepath.Join(src, n))
		if err != nil {
			t.Fatal(err)
		}
		out, err := os.Create(filepath.Join(dst, n))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, in); err != nil {
			t.Fatal(err)
		}
		in.Close()
		if err := out.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// TestVerifyAnchorCatchesARollback: warden checkpoints its heads to the
// anchor file; an older copy of the history put back in place still
// verifies on its own (every chain in it is consistent), but not against
// the anchor, while the real history does.
func TestVerifyAnchorCatchesARollback(t *testing.T) {
	dir := t.TempDir()
	older := t.TempDir()
	var db string
	var names []string
	rollback := anchorRollback{
		snapshot: func(a *app) {
			db = dbPath(a.cfg)
			names = []string{filepath.Base(db), filepath.Base(db) + "-wal"}
			copyFiles(t, filepath.Dir(db), older, names...)
		},
		// The rollback: the first run's files put back.
		restore: func() { copyFiles(t, older, filepath.Dir(db), names...) },
		flags:   func() historyFlags { return historyFlags{DB: db} },
		wants:   []string{"the session is gone"},
	}
	rollback.run(t, dir, "")
}

// anchorRollback is a test of verify --anchor against a history put back
// as it was after warden's first run: snapshot takes the copy after that
// run, restore puts it back after the second; flags name the history to
// verify, and wants are in what verify --anchor then reports.
type anchorRollback struct {
	snapshot func(a *app)
	restore  func()
	flags    func() historyFlags
	wants    []string
}

// run serves a configuration (dir's, with extra appended) twice, with a
// session and a checkpoint each run, and checks verify with and without
// the anchor, before and after the rollback.
func (r anchorRollback) run(t *testing.T, dir, extra string) {
	t.Helper()
	const keyEnv = "WARDEN_TEST_ANCHOR_KEY"
	t.Setenv(keyEnv, "0123456789abcdef0123456789abcdef")
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	anchorFile := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfgPath, strings.Replace(configText(upURL, dir, ""), "    workflow: \n", "", 1)+extra+
		"anchor: {file: "+anchorFile+", secret_env: "+keyEnv+", every: 1h}\n")

	// First run: one session; warden checkpoints its heads as it stops.
	a, url, stop := serveConfig(t, cfgPath)
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	stop()
	r.snapshot(a)

	// Second run: another session, checkpointed too.
	_, url, stop = serveConfig(t, cfgPath)
	callTool(t, url, "list_files", map[string]any{})
	stop()

	anchored := func() (string, error) {
		return printed((&verifyCmd{historyFlags: r.flags(), Anchor: anchorFile, AnchorKeyEnv: keyEnv}).Run)
	}
	out, err := anchored()
	if err != nil || !strings.Contains(out, "anchored: every head of") || !strings.Contains(out, "matching the session log") {
		t.Fatalf("verify --anchor on the real history = %v:\n%s", err, out)
	}

	r.restore()
	if out, err := printed((&verifyCmd{historyFlags: r.flags()}).Run); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("plain verify of the older copy = %v:\n%s (want intact: it is consistent on its own)", err, out)
	}
	_, err = anchored()
	var ex exitError
	if !errors.As(err, &ex) || ex.code != 1 || !strings.Contains(ex.msg, "ROLLED BACK") {
		t.Fatalf("verify --anchor on the older copy = %v, want exit 1", err)
	}
	for _, w := range r.wants {
		if !strings.Contains(ex.msg, w) {
			t.Errorf("verify --anchor on the older copy said:\n%s\nwant %q in it", ex.msg, w)
		}
	}
	t.Logf("verify --anchor said:\n%s", ex.msg)
}

// TestAnchorWebhookGetsSignedCheckpoints: with a webhook as the anchor,
// each checkpoint arrives as a signed anchor.checkpoint POST whose
// checkpoint verifies under the key, and the last one holds the session's
// head as the history has it.
func TestAnchorWebhookGetsSignedCheckpoints(t *testing.T) {
	const keyEnv = "WARDEN_TEST_ANCHOR_KEY"
	key := "0123456789abcdef0123456789abcdef"
	t.Setenv(keyEnv, key)
	var mu sync.Mutex
	var got []store.Checkpoint
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if err := notify.Verify([]byte(key), r.Header.Get("Warden-Signature"), body, time.Now(), time.Minute); err != nil {
			t.Errorf("webhook signature: %v", err)
		}
		var m notify.Message
		if err := json.Unmarshal(body, &m); err != nil || m.Type != notify.TypeAnchorCheckpoint || m.Checkpoint == nil {
			t.Errorf("webhook body %s: %v", body, err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		got = append(got, *m.Checkpoint)
		mu.Unlock()
	}))
	t.Cleanup(hook.Close)
	a, url, stop := serveWith(t, "", "anchor: {webhook: \""+hook.URL+"\", secret_env: "+keyEnv+", every: 1h}\n")
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	stop() // the last checkpoint is sent, and waited for, as warden stops
	db, err := store.Open(dbPath(a.cfg))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	heads, err := db.Heads(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	var lines strings.Builder
	for _, cp := range got {
		b, _ := json.Marshal(cp)
		lines.Write(append(b, '\n'))
	}
	cps, _, err := store.ReadCheckpoints(strings.NewReader(lines.String()), []byte(key))
	if err != nil || len(cps) == 0 {
		t.Fatalf("checkpoints received: %d, %v", len(cps), err)
	}
	latest := map[string]store.Head{}
	for _, cp := range cps {
		for _, h := range cp.Heads {
			latest[h.Session] = h
		}
	}
	for _, h := range heads {
		if latest[h.Session] != h {
			t.Errorf("head %+v was not checkpointed (latest sent: %+v)", h, latest[h.Session])
		}
	}
	if brk, err := db.CheckHeads(t.Context(), heads); err != nil || len(brk) != 0 {
		t.Fatalf("CheckHeads = %+v, %v", brk, err)
	}
}
