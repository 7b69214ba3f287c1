package e2e

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// reloadAgent is one agent of a reload test's configuration.
type reloadAgent struct{ name, token, extra string }

// reloadWarden is `warden serve` on a config file that a test rewrites.
type reloadWarden struct {
	*wardenProcess
	cfg, data string
	write     func(settings string, agents ...reloadAgent)
}

// startReloadWarden builds warden and the desk upstream, writes a config
// with the settings and agents given and serves it. With viaLink the
// config path is a symbolic link to a file in another folder, which the
// file watch does not see change: only SIGHUP reloads it.
func startReloadWarden(t *testing.T, viaLink bool, settings string, agents ...reloadAgent) *reloadWarden {
	t.Helper()
	bin := buildWarden(t)
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	dir := t.TempDir()
	cfg, data := filepath.Join(dir, "warden.yaml"), filepath.Join(dir, "data")
	target := cfg
	if viaLink {
		target = filepath.Join(t.TempDir(), "real.yaml")
		if err := os.Symlink(target, cfg); err != nil {
			t.Fatal(err)
		}
	}
	w := &reloadWarden{cfg: cfg, data: data}
	w.write = func(settings string, agents ...reloadAgent) {
		var b strings.Builder
		fmt.Fprintf(&b, "listen: 127.0.0.1:0\ndata_dir: %s\nlog: {level: info, format: json}\n%supstreams:\n  - name: desk\n    stdio: {command: %q}\nagents:\n", data, settings, desk)
		for _, a := range agents {
			fmt.Fprintf(&b, "  - name: %s\n    token_sha256: %s\n%s", a.name, hashToken(a.token), a.extra)
		}
		if err := os.WriteFile(target, []byte(b.String()), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	w.write(settings, agents...)
	w.wardenProcess = startServe(t, bin, cfg)
	return w
}

// reloaded waits for the n-th "configuration reloaded" in warden's log.
func (w *reloadWarden) reloaded(t *testing.T, n int) {
	t.Helper()
	waitFor(t, 30*time.Second, fmt.Sprintf("reload %d to apply", n), func() bool {
		return strings.Count(w.stderr.String(), `"msg":"configuration reloaded"`) >= n
	})
}

// stopAndOpen stops warden (SIGTERM) and opens its history.
func (w *reloadWarden) stopAndOpen(t *testing.T) *store.DB {
	t.Helper()
	if err := w.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-w.done:
	case <-time.After(30 * time.Second):
		t.Fatal("warden did not stop within 30s of SIGTERM")
	}
	db, err := store.Open(filepath.Join(w.data, "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

const initializeBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw-agent","version":"1"}}}`

// initStatus is the status an initialize with token gets.
func initStatus(t *testing.T, url, token string) int {
	t.Helper()
	st, body, _, err := ladderPost(nil, url, token, "", initializeBody, nil)
	if err != nil {
		t.Fatalf("initialize: %v", err)
	}
	if st != http.StatusOK && st != http.StatusUnauthorized {
		t.Fatalf("initialize: %d %s", st, body)
	}
	return st
}

// echoIn calls echo in a live session and returns the HTTP status and body.
func echoIn(t *testing.T, url, token, sid string, id int) (int, string) {
	t.Helper()
	st, body, _, err := ladderPost(nil, url, token, sid, toolCallBody(id, "echo", `{"message":"hi"}`), nil)
	if err != nil {
		t.Fatalf("echo: %v", err)
	}
	return st, body
}

// endedByReload checks that session id's chain ends with a session_end that
// says a reload ended it, why, and never holds the secret.
func endedByReload(t *testing.T, db *store.DB, id, why, secret string) {
	t.Helper()
	ctx := context.Background()
	rec, err := db.Session(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != store.StateEnded || !strings.Contains(rec.Reason, why) {
		t.Errorf("session %s: state %q reason %q, want ended with %q", id, rec.State, rec.Reason, why)
	}
	evs, err := db.Events(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1]
	if last.Kind != "session_end" || len(last.Reasons) != 1 || !strings.Contains(last.Reasons[0], "configuration reload: "+why) {
		t.Errorf("session %s: last event %s %v, want session_end ended by a configuration reload: %s", id, last.Kind, last.Reasons, why)
	}
	for _, e := range evs {
		if strings.Contains(strings.Join(e.Reasons, " ")+string(e.Data), secret) {
			t.Errorf("session %s: event %s holds the token: %v", id, e.Kind, e.Reasons)
		}
	}
}

// TestReloadRotatesToken rotates an agent's token by editing the config:
// once by SIGHUP (the config is a link the file watch cannot see change),
// once by the file watch alone. The old token is refused from then on, the
// session it opened is ended on record, and the new token works.
func TestReloadRotatesToken(t *testing.T) {
	for _, trigger := range []string{"sighup", "watch"} {
		t.Run(trigger, func(t *testing.T) {
			const oldTok, newTok = "rotate-old-token-0123456789", "rotate-new-token-9876543210"
			w := startReloadWarden(t, trigger == "sighup", "", reloadAgent{name: "bot", token: oldTok})
			sid := rawSession(t, nil, w.url, oldTok, "agent/1.0")
			if st, body := echoIn(t, w.url, oldTok, sid, 2); st != http.StatusOK || !strings.Contains(body, `"text":"hi"`) {
				t.Fatalf("echo before the rotation: %d %s", st, body)
			}

			w.write("", reloadAgent{name: "bot", token: newTok})
			if trigger == "sighup" {
				if err := w.cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
			w.reloaded(t, 1)

			if st := initStatus(t, w.url, oldTok); st != http.StatusUnauthorized {
				t.Errorf("old token after the rotation: %d, want 401", st)
			}
			if st, body := echoIn(t, w.url, oldTok, sid, 3); st != http.StatusUnauthorized {
				t.Errorf("old token's live session after the rotation: %d %s, want 401", st, body)
			}
			if st, body := echoIn(t, w.url, newTok, sid, 4); st != http.StatusNotFound {
				t.Errorf("the old session with the new token: %d %s, want 404 (it ended)", st, body)
			}
			sid2 := rawSession(t, nil, w.url, newTok, "agent/1.0")
			if st, body := echoIn(t, w.url, newTok, sid2, 5); st != http.StatusOK || !strings.Contains(body, `"text":"hi"`) {
				t.Errorf("echo with the new token: %d %s", st, body)
			}

			db := w.stopAndOpen(t)
			endedByReload(t, db, sid, "the agent's token was replaced", oldTok)
		})
	}
}
