package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

const shareAdminToken = "share-admin-token-0123456789abcdef"

// shareConfig writes a config that `warden serve` and `warden stdio` share:
// the desk upstream, an admin API on a free port, the desktop agent.
func shareConfig(t *testing.T) (cfg, admin string) {
	t.Helper()
	admin = fmt.Sprintf("127.0.0.1:%d", freePort(t))
	cfg = deskConfig(t, "", fmt.Sprintf(`admin: {listen: %q, token_sha256: %s}
agents:
  - name: desktop
    token_sha256: %s
    tools: ["read_*", "list_*"]
`, admin, hashToken(shareAdminToken), hashToken("desktop-http-token")))
	return cfg, "http://" + admin
}

// adminJSON calls serve's admin API and decodes its answer into out.
func adminJSON(t *testing.T, method, url string, out any) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader([]byte("{}")))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+shareAdminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s", method, url, resp.Status)
	}
	if out != nil {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatal(err)
		}
	}
}

// TestNewcomerStdioThroughServe: with `warden serve` running, `warden
// stdio` on the same config (launched with no token in its environment)
// acts through it: its session is serve's like any other, visible in and
// killable through serve's admin API, its calls in serve's history; the
// kill ends the stdio process.
func TestNewcomerStdioThroughServe(t *testing.T) {
	bin := buildWarden(t)
	cfg, admin := shareConfig(t)
	serve := startServe(t, bin, cfg)

	l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
	if err := testkit.Start(l.c, "desktop-client"); err != nil {
		t.Fatalf("initialize through serve: %v\nstdio stderr:\n%s", err, l.stderr)
	}
	if got := resultText(callTool(t, l.c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
		t.Fatalf("read_file = %q\nstdio stderr:\n%s", got, l.stderr)
	}
	if res := callTool(t, l.c, "issue_refund", map[string]any{"customer_id": "C-1001", "iban": "X", "amount": 1}); !res.IsError {
		t.Fatalf("a hidden tool was callable: %+v", res)
	}
	if !strings.Contains(l.stderr.String(), "acting through the running warden serve") {
		t.Errorf("stdio did not say it acts through serve:\n%s", l.stderr)
	}

	var sessions []store.Session
	adminJSON(t, http.MethodGet, admin+"/v1/sessions?agent=desktop", &sessions)
	if len(sessions) != 1 || sessions[0].State != store.StateActive || sessions[0].ClientName != "desktop-client" {
		t.Fatalf("serve's sessions = %+v, want the stdio client's, active", sessions)
	}
	var view supervisor.SessionView
	adminJSON(t, http.MethodGet, admin+"/v1/sessions/"+sessions[0].ID, &view)
	if got := timeline(view.Events); !strings.Contains(got, "call:read_file:allow") || !strings.Contains(got, "call:issue_refund:deny") {
		t.Fatalf("serve's history of the stdio session = %s", got)
	}

	adminJSON(t, http.MethodPost, admin+"/v1/sessions/"+sessions[0].ID+"/kill", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := l.c.ListTools(ctx, mcp.ListToolsRequest{}); err == nil {
		t.Fatal("the killed session still lists tools")
	}
	deadline := time.Now().Add(20 * time.Second)
	for !processGone(l.cmd.Process.Pid) && !zombie(l.cmd.Process.Pid) {
		if time.Now().After(deadline) {
			t.Fatalf("the stdio process outlived its killed session\nstderr:\n%s", l.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	adminJSON(t, http.MethodGet, admin+"/v1/sessions/"+sessions[0].ID, &view)
	if view.Session.State != store.StateKilled {
		t.Fatalf("session after the kill: %+v", view.Session)
	}
	if strings.Contains(serve.stderr.String(), `"level":"error"`) {
		t.Errorf("serve logged an error:\n%s", serve.stderr)
	}
}

// TestNewcomerServeWhileStdioHolds: a `warden serve` started while a
// `warden stdio` holds the history says which process holds it and what
// to do, rather than a bare "locked by another process".
func TestNewcomerServeWhileStdioHolds(t *testing.T) {
	bin := buildWarden(t)
	cfg, _ := shareConfig(t)
	l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
	if err := testkit.Start(l.c, "desktop-client"); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, l.stderr)
	}
	if strings.Contains(l.stderr.String(), "acting through") {
		t.Fatalf("no serve runs, yet stdio bridged:\n%s", l.stderr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, "serve", "-c", cfg).CombinedOutput()
	if err == nil {
		t.Fatalf("serve started while stdio holds the history:\n%s", out)
	}
	for _, want := range []string{
		fmt.Sprintf("held by `warden stdio --agent desktop` (pid %d)", l.cmd.Process.Pid),
		fmt.Sprintf("kill %d", l.cmd.Process.Pid),
	} {
		if !strings.Contains(string(out), want) {
			t.Errorf("serve's error does not say %q:\n%s", want, out)
		}
	}
	// Once the stdio session ends, serve starts on the same config.
	if err := l.c.Close(); err != nil {
		t.Fatalf("close: %v", err)
	}
	startServe(t, bin, cfg)
}

// TestNewcomerStdioAfterServeDied: a serve killed with -9 leaves its
// holder file behind; a stdio started later finds nobody answering there
// and opens the history itself.
func TestNewcomerStdioAfterServeDied(t *testing.T) {
	bin := buildWarden(t)
	cfg, _ := shareConfig(t)
	serve := startServe(t, bin, cfg)
	if err := serve.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-serve.done
	if _, err := os.Stat(filepath.Join(filepath.Dir(cfg), "data", "holder.json")); err != nil {
		t.Fatalf("the killed serve left no holder file to be stale: %v", err)
	}
	l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
	if err := testkit.Start(l.c, "desktop-client"); err != nil {
		t.Fatalf("initialize: %v\nstderr:\n%s", err, l.stderr)
	}
	if got := resultText(callTool(t, l.c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
		t.Fatalf("read_file = %q\nstderr:\n%s", got, l.stderr)
	}
	if strings.Contains(l.stderr.String(), "acting through") {
		t.Fatalf("stdio bridged to a dead serve:\n%s", l.stderr)
	}
}

// TestNewcomerStdioThroughServeSuspended: serve refuses a suspended
// agent's new session; a stdio acting through it passes the refusal on
// (to its client, and on stderr) and exits non-zero.
func TestNewcomerStdioThroughServeSuspended(t *testing.T) {
	bin := buildWarden(t)
	cfg, admin := shareConfig(t)
	startServe(t, bin, cfg)
	adminJSON(t, http.MethodPost, admin+"/v1/agents/desktop/suspend", nil)
	l := launchStdio(t, bin, cfg, "desktop", []string{"PATH=" + os.Getenv("PATH")})
	err := testkit.Start(l.c, "desktop-client")
	if err == nil || !strings.Contains(err.Error(), "suspended") {
		t.Fatalf("initialize of a suspended agent through serve: %v\nstderr:\n%s", err, l.stderr)
	}
	_ = l.c.Close()
	if st := l.cmd.ProcessState; st == nil || st.Success() {
		t.Errorf("stdio exit: %v, want a failure", st)
	}
	if !strings.Contains(l.stderr.String(), "suspended") {
		t.Errorf("stderr does not say why:\n%s", l.stderr)
	}
}
