package main

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	const keyEnv = "WARDEN_TEST_ANCHOR_KEY"
	t.Setenv(keyEnv, "0123456789abcdef0123456789abcdef")
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	anchorFile := filepath.Join(t.TempDir(), "checkpoints.jsonl")
	cfgPath := filepath.Join(dir, "warden.yaml")
	writeFile(t, cfgPath, strings.Replace(configText(upURL, dir, ""), "    workflow: \n", "", 1)+
		"anchor: {file: "+anchorFile+", secret_env: "+keyEnv+", every: 1h}\n")

	// First run: one session; warden checkpoints its heads as it stops.
	a, url, stop := serveConfig(t, cfgPath)
	db := dbPath(a.cfg)
	callTool(t, url, "read_file", map[string]any{"path": "policies/refunds.md"})
	stop()
	older := t.TempDir()
	names := []string{filepath.Base(db), filepath.Base(db) + "-wal"}
	copyFiles(t, filepath.Dir(db), older, names...)

	// Second run: another session, checkpointed too.
	_, url, stop = serveConfig(t, cfgPath)
	callTool(t, url, "list_files", map[string]any{})
	stop()

	anchored := func() (string, error) {
		return printed((&verifyCmd{historyFlags: historyFlags{DB: db}, Anchor: anchorFile, AnchorKeyEnv: keyEnv}).Run)
	}
	out, err := anchored()
	if err != nil || !strings.Contains(out, "anchored: every head of") {
		t.Fatalf("verify --anchor on the real history = %v:\n%s", err, out)
	}

	// The rollback: the first run's files put back.
	copyFiles(t, older, filepath.Dir(db), names...)
	if out, err := printed((&verifyCmd{historyFlags: historyFlags{DB: db}}).Run); err != nil || !strings.Contains(out, "intact") {
		t.Fatalf("plain verify of the older copy = %v:\n%s (want intact: it is consistent on its own)", err, out)
	}
	_, err = anchored()
	var ex exitError
	if !errors.As(err, &ex) || ex.code != 1 || !strings.Contains(ex.msg, "ROLLED BACK") || !strings.Contains(ex.msg, "the session is gone") {
		t.Fatalf("verify --anchor on the older copy = %v, want exit 1 naming the session the copy lacks", err)
	}
	t.Logf("verify --anchor said:\n%s", ex.msg)
}
