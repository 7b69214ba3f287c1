package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
)

// loudWorkflow lets the viewer echo, and flags a loud echo: it goes ahead,
// and waits in the review queue.
const loudWorkflow = `agent: viewer
purpose: echo messages
on_violation: deny
start: [echo]
anytime: [echo]
steps:
  - name: echo
    tool: echo
    next: ["*"]
rules:
  - name: loud
    when: 'args.message contains "LOUD"'
    action: flag
    reason: a loud message
`

// viewerServeConfig is deskServeConfig for the agent viewer (token
// viewsToken) with workflow as its policy.
func viewerServeConfig(t *testing.T, settings, workflow string) (bin, cfg, data string) {
	t.Helper()
	bin, cfg, data = deskServeConfig(t, settings, "viewer", viewsToken)
	wf := filepath.Join(filepath.Dir(cfg), "viewer.yaml")
	if err := os.WriteFile(wf, []byte(workflow), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(cfg, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "    workflow: %s\n", wf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	return bin, cfg, data
}

// wardenCLIFails runs the warden binary with args, which must fail, and
// returns what it wrote to standard error.
func wardenCLIFails(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+viewsAdminToken)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err == nil {
		t.Fatalf("warden %s succeeded, printing %s; want it refused", strings.Join(args, " "), out)
	}
	return stderr.String()
}

// stopServe stops a `warden serve` with SIGTERM and waits for it.
func stopServe(t *testing.T, p *wardenProcess) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		t.Fatal("warden did not stop within 30s of SIGTERM")
	}
}

// onlyFlag returns the one flag of list, failing otherwise.
func onlyFlag(t *testing.T, list []store.Flag, where string) store.Flag {
	t.Helper()
	if len(list) != 1 {
		t.Fatalf("%s lists %d flags, want 1: %+v", where, len(list), list)
	}
	return list[0]
}

// TestFlagReviewQueue: a call a policy rule flags, made through warden to
// a real MCP server, goes ahead and is in `warden flags ls` (an allowed
// call is not); `warden flags review` records it reviewed with the note
// and the reviewer; a second review is refused, naming the first; and the
// review is still there from the file once warden has stopped, and through
// the admin API of a warden started again.
func TestFlagReviewQueue(t *testing.T) {
	port := freePort(t)
	admin := fmt.Sprintf("admin: {listen: \"127.0.0.1:%d\", token_sha256: %s}\n", port, hashToken(viewsAdminToken))
	bin, cfg, data := viewerServeConfig(t, admin, loudWorkflow)

	p := startServe(t, bin, cfg)
	c, err := quietDial(p.url, viewsToken)
	if err != nil {
		t.Fatal(err)
	}
	for _, msg := range []string{"quiet words", "LOUD words"} {
		if got := resultText(callTool(t, c, "echo", map[string]any{"message": msg})); !strings.Contains(got, msg) {
			t.Fatalf("echo %q = %q: a flagged call goes ahead", msg, got)
		}
	}
	sid := c.GetSessionId()
	_ = c.Close()

	var list []store.Flag
	wardenCLIJSON(t, bin, &list, "flags", "ls", "-c", cfg)
	fl := onlyFlag(t, list, "flags ls -c")
	if fl.Session != sid || fl.Agent != "viewer" || fl.State != store.FlagOpen || !strings.Contains(fl.Tool, "echo") ||
		len(fl.Reasons) == 0 || !strings.Contains(strings.Join(fl.Reasons, ";"), "a loud message") {
		t.Fatalf("flags ls -c has %+v, want viewer's loud echo, open, with the rule's reason", fl)
	}
	if !hasLine(wardenCLI(t, bin, "flags", "ls", "-c", cfg, "--state", "open"), fl.ID, "open", "viewer", "a loud message") {
		t.Fatalf("flags ls --state open has no line for %s", fl.ID)
	}

	// Reviewed by a unique prefix of its id, through the running warden.
	out := wardenCLI(t, bin, "flags", "review", sid[:12], "-c", cfg, "--note", "checked with the customer")
	if !strings.Contains(out, fl.ID) || !strings.Contains(out, "reviewed by admin") {
		t.Fatalf("flags review printed %q", out)
	}
	list = nil
	wardenCLIJSON(t, bin, &list, "flags", "ls", "-c", cfg, "--state", "reviewed")
	if got := onlyFlag(t, list, "flags ls --state reviewed"); got.ID != fl.ID || got.Reviewer != "admin" ||
		got.Note != "checked with the customer" || got.Reviewed.IsZero() {
		t.Fatalf("after the review: %+v", got)
	}
	list = nil
	wardenCLIJSON(t, bin, &list, "flags", "ls", "-c", cfg, "--state", "open")
	if len(list) != 0 {
		t.Fatalf("open flags after the review: %+v", list)
	}
	if msg := wardenCLIFails(t, bin, "flags", "review", fl.ID, "-c", cfg, "--note", "again"); !strings.Contains(msg, "409") || !strings.Contains(msg, "reviewed by admin") {
		t.Fatalf("a second review said %q; want a conflict naming the first reviewer", msg)
	}

	// From the file, warden stopped; then through a warden started again.
	stopServe(t, p)
	db := filepath.Join(data, "warden.db")
	list = nil
	wardenCLIJSON(t, bin, &list, "flags", "ls", "--db", db)
	if got := onlyFlag(t, list, "flags ls --db"); got.State != store.FlagReviewed || got.Reviewer != "admin" || got.Note != "checked with the customer" {
		t.Fatalf("flags ls --db after the stop: %+v", got)
	}
	if msg := wardenCLIFails(t, bin, "flags", "review", fl.ID, "--db", db, "--note", "again"); !strings.Contains(msg, "reviewed by admin") {
		t.Fatalf("a second review on the file said %q", msg)
	}
	p = startServe(t, bin, cfg)
	defer stopServe(t, p)
	list = nil
	wardenCLIJSON(t, bin, &list, "flags", "ls", "-c", cfg)
	if got := onlyFlag(t, list, "flags ls -c after a restart"); got.State != store.FlagReviewed || got.Reviewer != "admin" {
		t.Fatalf("flags ls -c after a restart: %+v", got)
	}
}
