package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

const sinkAttackKey = "sink-api-key-do-not-leak-0123456789"

// TestAttackSinkRedirect: the live OCSF export does not follow a
// redirect. An endpoint (https, or http on loopback) that answers 307
// would otherwise have warden POST the history, and the API key from
// headers_env with it, to wherever it points, plain http to another
// host included: the config's https-or-loopback rule would be bypassed.
// The batch counts as not delivered and is retried; the key is in no log.
func TestAttackSinkRedirect(t *testing.T) {
	var elsewhere, redirects atomic.Int64
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		elsewhere.Add(1)
		w.WriteHeader(http.StatusOK)
	}))
	t.Cleanup(other.Close)
	sink := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		redirects.Add(1)
		http.Redirect(w, r, other.URL+"/collect", http.StatusTemporaryRedirect)
	}))
	t.Cleanup(sink.Close)

	t.Setenv("ATTACK_SINK_KEY", sinkAttackKey)
	bin := buildWarden(t)
	cfg := deskConfig(t, "", fmt.Sprintf(`export:
  ocsf: {url: %q, headers_env: {X-Api-Key: ATTACK_SINK_KEY}, interval: 50ms}
agents:
  - name: desktop
    token_sha256: %s
`, sink.URL+"/ingest", hashToken(policyAttackToken)))
	serve := startServe(t, bin, cfg)
	c := connect(t, serve.url, policyAttackToken)
	callTool(t, c, "echo", map[string]any{"message": "hello"})

	// The sink retries a batch it could not deliver: a second attempt
	// means the first (and whatever it followed) is over.
	deadline := time.Now().Add(30 * time.Second)
	for redirects.Load() < 2 && elsewhere.Load() == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the export reached the endpoint %d times in 30s\n%s", redirects.Load(), serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := elsewhere.Load(); n != 0 {
		t.Fatalf("the export followed the redirect: %d POSTs reached another endpoint", n)
	}
	if !strings.Contains(serve.stderr.String(), "307") {
		t.Errorf("serve did not log the refused redirect:\n%s", serve.stderr)
	}
	if strings.Contains(serve.stderr.String(), sinkAttackKey) {
		t.Errorf("serve logged the sink's API key:\n%s", serve.stderr)
	}
}

// TestAttackSinkCursorAhead: a cursor edited (or left by a history since
// restored from a copy) to stand past the end of a chain would have the
// live export skip, silently and for good, every event recorded there
// later. serve says so and sends them.
func TestAttackSinkCursorAhead(t *testing.T) {
	bin := buildWarden(t)
	live := filepath.Join(t.TempDir(), "ocsf.jsonl")
	cfg := deskConfig(t, "", fmt.Sprintf(`export:
  ocsf: {file: %q, interval: 50ms}
agents:
  - name: desktop
    token_sha256: %s
`, live, hashToken(policyAttackToken)))
	cursor := filepath.Join(filepath.Dir(cfg), "data", "export-ocsf.cursor")
	systemLines := func() int {
		b, _ := os.ReadFile(live)
		return strings.Count(string(b), `"uid":"_system/`)
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("%s did not happen within 30s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}

	serve := startServe(t, bin, cfg)
	connect(t, serve.url, policyAttackToken)
	waitFor("the first session's export", func() bool { return systemLines() > 0 })
	if err := serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-serve.done
	before := systemLines()

	var cur struct {
		Version  int               `json:"version"`
		Sessions map[string]uint64 `json:"sessions"`
	}
	b, err := os.ReadFile(cursor)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &cur); err != nil || cur.Sessions["_system"] == 0 {
		t.Fatalf("cursor %s: %v: %s", cursor, err, b)
	}
	cur.Sessions["_system"] = 1_000_000
	edited, _ := json.Marshal(cur)
	writeFile(t, cursor, edited, 0o600)

	again := startServe(t, bin, cfg)
	connect(t, again.url, policyAttackToken)
	waitFor("the export of the system log's new events", func() bool { return systemLines() > before })
	if !strings.Contains(again.stderr.String(), "cursor is past the end") {
		t.Errorf("serve did not say the cursor was past the history:\n%s", again.stderr)
	}
}
