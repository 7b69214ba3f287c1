package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

const (
	viewsToken      = "views-token-0123456789abcdef"
	viewsAdminToken = "views-admin-token-0123456789abcdef"
)

// wardenCLI runs the warden binary with args (and the admin token in
// WARDEN_ADMIN_TOKEN) and returns its standard output; it fails the test
// when the command fails.
func wardenCLI(t *testing.T, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+viewsAdminToken)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("warden %s: %v\n%s%s", strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}

// wardenCLIJSON is wardenCLI with --json, decoded into out.
func wardenCLIJSON(t *testing.T, bin string, out any, args ...string) {
	t.Helper()
	raw := wardenCLI(t, bin, append(args, "--json")...)
	if err := json.Unmarshal([]byte(raw), out); err != nil {
		t.Fatalf("warden %s --json printed %q: %v", strings.Join(args, " "), raw, err)
	}
}

// sessionIn returns the session sid of list, failing when it is absent.
func sessionIn(t *testing.T, list []store.Session, sid, where string) store.Session {
	t.Helper()
	for _, s := range list {
		if s.ID == sid {
			return s
		}
	}
	t.Fatalf("%s lists %d sessions, not %s", where, len(list), sid)
	return store.Session{}
}

// checkEchoTimeline checks that a session's events are its start, then
// the echo call allowed with its message, then the echo's ok result.
func checkEchoTimeline(t *testing.T, v supervisor.SessionView, sid, where string) {
	t.Helper()
	if v.Session.ID != sid || v.Session.Agent != "viewer" || len(v.Events) < 3 || v.Events[0].Kind != store.KindSessionStart {
		t.Fatalf("%s: session %+v with %d events, want viewer's %s starting with session_start", where, v.Session, len(v.Events), sid)
	}
	call, result := callOf(v.Events, "echo")
	if call == nil || call.Verdict != "allow" || !strings.Contains(string(call.Args), "seen by the views") || result == nil || !result.OK {
		t.Fatalf("%s: echo call %+v, result %+v; want it allowed with its message and an ok result", where, call, result)
	}
}

// TestSessionViewsAdminAPIAndCLI: a session served by `warden serve` is
// seen with its agent, state and events through the admin API (GET
// /v1/sessions, /v1/sessions/{id}) and through `warden sessions ls/show`,
// first while warden runs (the CLI then asks the admin API, the file
// being held), then from the history file once warden has stopped.
func TestSessionViewsAdminAPIAndCLI(t *testing.T) {
	port := freePort(t)
	admin := fmt.Sprintf("admin: {listen: \"127.0.0.1:%d\", token_sha256: %s}\n", port, hashToken(viewsAdminToken))
	bin, cfg, data := deskServeConfig(t, admin, "viewer", viewsToken)
	p := startServe(t, bin, cfg)
	c, err := quietDial(p.url, viewsToken)
	if err != nil {
		t.Fatal(err)
	}
	if got := resultText(callTool(t, c, "echo", map[string]any{"message": "seen by the views"})); !strings.Contains(got, "seen by the views") {
		t.Fatalf("echo = %q", got)
	}
	sid := c.GetSessionId()

	// The admin API.
	api := testkit.Admin{Base: fmt.Sprintf("http://127.0.0.1:%d", port), Token: viewsAdminToken}
	var list []store.Session
	if st, body := api.Do(t, http.MethodGet, "/v1/sessions?agent=viewer", nil, &list); st != http.StatusOK {
		t.Fatalf("GET /v1/sessions: %d %s", st, body)
	}
	if s := sessionIn(t, list, sid, "GET /v1/sessions"); s.Agent != "viewer" || s.State != store.StateActive || s.ClientName != "crash-load" {
		t.Fatalf("GET /v1/sessions has %+v, want viewer's active session from its client", s)
	}
	var view supervisor.SessionView
	if st, body := api.Do(t, http.MethodGet, "/v1/sessions/"+sid, nil, &view); st != http.StatusOK {
		t.Fatalf("GET /v1/sessions/%s: %d %s", sid, st, body)
	}
	checkEchoTimeline(t, view, sid, "GET /v1/sessions/{id}")
	if st, _ := api.Do(t, http.MethodGet, "/v1/sessions/no-such-session", nil, nil); st != http.StatusNotFound {
		t.Fatalf("GET /v1/sessions/no-such-session: %d, want 404", st)
	}

	// The CLI while warden runs: through the admin API.
	list = nil
	wardenCLIJSON(t, bin, &list, "sessions", "ls", "-c", cfg)
	if s := sessionIn(t, list, sid, "sessions ls -c (running)"); s.Agent != "viewer" || s.State != store.StateActive {
		t.Fatalf("sessions ls -c has %+v, want viewer's active session", s)
	}
	if !hasLine(wardenCLI(t, bin, "sessions", "ls", "-c", cfg), sid, "viewer", "active") {
		t.Fatalf("sessions ls -c has no line with %s, viewer and active", sid)
	}
	view = supervisor.SessionView{}
	wardenCLIJSON(t, bin, &view, "sessions", "show", sid, "-c", cfg)
	checkEchoTimeline(t, view, sid, "sessions show -c (running)")
	shown := wardenCLI(t, bin, "sessions", "show", sid, "-c", cfg)
	if !hasLine(shown, sid, "viewer", "active") || !hasLine(shown, "call", "desk/echo", "→ allow") || !hasLine(shown, "result", "echo ok") {
		t.Fatalf("sessions show -c:\n%s\nwant the session, its agent, the echo call allowed and its result ok", shown)
	}

	// The file, once warden has stopped.
	_ = c.Close()
	stopServe(t, p)
	db := filepath.Join(data, "warden.db")
	list = nil
	wardenCLIJSON(t, bin, &list, "sessions", "ls", "--db", db, "--agent", "viewer")
	s := sessionIn(t, list, sid, "sessions ls --db")
	if s.Agent != "viewer" || s.State != store.StateEnded {
		t.Fatalf("sessions ls --db has %+v, want viewer's session ended by the shutdown", s)
	}
	if !hasLine(wardenCLI(t, bin, "sessions", "ls", "--db", db), sid, "viewer", s.State) {
		t.Fatalf("sessions ls --db has no line with %s, viewer and %s", sid, s.State)
	}
	view = supervisor.SessionView{}
	wardenCLIJSON(t, bin, &view, "sessions", "show", sid, "--db", db)
	checkEchoTimeline(t, view, sid, "sessions show --db")
	if last := view.Events[len(view.Events)-1]; view.Session.State != s.State || last.Kind != store.KindSessionEnd {
		t.Fatalf("sessions show --db says %s, ending with %s; want %s, ending with session_end", view.Session.State, last.Kind, s.State)
	}
	shown = wardenCLI(t, bin, "sessions", "show", sid, "--db", db)
	if !hasLine(shown, sid, "viewer", s.State) || !hasLine(shown, "call", "desk/echo", "→ allow") || !hasLine(shown, "result", "echo ok") {
		t.Fatalf("sessions show --db:\n%s\nwant the session, its agent, the echo call allowed and its result ok", shown)
	}
}

// hasLine reports whether some line of out contains every one of words.
func hasLine(out string, words ...string) bool {
	for line := range strings.SplitSeq(out, "\n") {
		all := true
		for _, w := range words {
			all = all && strings.Contains(line, w)
		}
		if all {
			return true
		}
	}
	return false
}
