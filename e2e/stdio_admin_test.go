package e2e

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// stdioWarden is a `warden stdio` process run by mcp-go's stdio client,
// with its admin API, in front of the typed mail upstream.
type stdioWarden struct {
	bin, cfg, db string
	admin        string // the admin API's base URL
	sent         func() []sendArgs
	stderr       *lines
}

const stdioAdminToken = "stdio-admin-token-0123456789abcdef"

// newStdioWarden writes a config for the desktop agent (every tool, no
// policy) with an admin API on a free loopback port.
func newStdioWarden(t *testing.T) *stdioWarden {
	t.Helper()
	up, sent := mailUpstream(t)
	dir := t.TempDir()
	w := &stdioWarden{bin: buildWarden(t), cfg: filepath.Join(dir, "warden.yaml"), db: filepath.Join(dir, "data", "warden.db"), sent: sent}
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log: {level: info, format: json}
admin: {listen: "127.0.0.1:0", token_sha256: %s}
upstreams:
  - name: mail
    http: {url: %q}
agents:
  - name: desktop
    token_sha256: %s
`, filepath.Dir(w.db), hashToken(stdioAdminToken), up, hashToken("unused-over-stdio"))
	if err := os.WriteFile(w.cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

// start launches the process and returns its client, initialized or
// not (err says why).
func (w *stdioWarden) start(t *testing.T) (*client.Client, error) {
	t.Helper()
	c, err := client.NewStdioMCPClient(w.bin, nil, "stdio", "-c", w.cfg, "--agent", "desktop")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	stderr, _ := client.GetStderr(c)
	w.stderr = collect(stderr)
	return c, testkit.Start(c, "desktop-client")
}

// adminURL waits for the process to say where its admin API is.
func (w *stdioWarden) adminURL(t *testing.T) string {
	t.Helper()
	re := regexp.MustCompile(`"msg":"admin API serving".*"url":"(http://[^"]+)"`)
	line, ok := w.stderr.await(re, 30*time.Second)
	if !ok {
		t.Fatalf("the stdio process did not announce its admin API; stderr:\n%s", w.stderr)
	}
	return re.FindStringSubmatch(line)[1]
}

// cli runs a warden admin command against the process's admin API.
func (w *stdioWarden) cli(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(w.bin, append(args, "--admin", w.adminURL(t))...)
	cmd.Env = append(os.Environ(), "WARDEN_ADMIN_TOKEN="+stdioAdminToken)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("warden %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// history waits for the process to end (it holds the history file while
// it runs) and returns the agent's sessions and the last one's events.
func (w *stdioWarden) history(t *testing.T) ([]store.Session, []store.Event) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := store.Open(w.db, store.WithLockTimeout(200*time.Millisecond))
		if err == nil {
			defer st.Close()
			ctx := context.Background()
			sessions, err := st.Sessions(ctx, store.Filter{Agent: "desktop"})
			if err != nil {
				t.Fatal(err)
			}
			if len(sessions) == 0 {
				return nil, nil
			}
			evs, err := st.Events(ctx, sessions[len(sessions)-1].ID)
			if err != nil {
				t.Fatal(err)
			}
			return sessions, evs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the stdio process still holds its history: %v; stderr:\n%s", err, w.stderr)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// send calls send_email; ok reports whether it went through.
func send(c *client.Client, to string) (ok bool, text string) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = "send_email"
	req.Params.Arguments = map[string]any{"recipients": []string{to}, "subject": "hi"}
	res, err := c.CallTool(ctx, req)
	if err != nil {
		return false, err.Error()
	}
	return !res.IsError, resultText(res)
}

// timeline is a session's events as kind:tool:verdict.
func timeline(evs []store.Event) string {
	var kinds []string
	for _, e := range evs {
		kinds = append(kinds, e.Kind+":"+e.Tool+":"+e.Verdict)
	}
	return strings.Join(kinds, " ")
}

// endedThroughAdmin runs a stdio client that makes one call, then the
// admin command args against its process, and checks that the client's
// next call reaches nothing, that the process ends, and that its session
// is on record as killed, saying reason.
func endedThroughAdmin(t *testing.T, w *stdioWarden, args []string, said, reason string) {
	t.Helper()
	c, err := w.start(t)
	if err != nil {
		t.Fatal(err)
	}
	if ok, text := send(c, "emma@company.com"); !ok {
		t.Fatalf("first call refused: %s", text)
	}
	if out := w.cli(t, args...); !strings.Contains(out, said) {
		t.Fatalf("warden %s said %q; want %q", strings.Join(args, " "), out, said)
	}
	if ok, text := send(c, "attacker@evil.com"); ok {
		t.Fatalf("a call after warden %s went through: %s", strings.Join(args, " "), text)
	}
	if got := w.sent(); len(got) != 1 {
		t.Fatalf("the upstream ran %+v; want only the first call", got)
	}
	sessions, evs := w.history(t)
	if len(sessions) != 1 || sessions[0].State != store.StateKilled || !strings.Contains(sessions[0].Reason, reason) {
		t.Fatalf("sessions = %+v; want one, killed saying %q", sessions, reason)
	}
	// A stdio warden serves one agent session: its upstreams are not shared
	// with anyone, and it opens no upstream session of its own for it.
	want := "session_start:: call:send_email:allow result:send_email:allow kill:: session_end::"
	if got := timeline(evs); got != want {
		t.Fatalf("stdio timeline = %s\nwant %s", got, want)
	}
}

// TestStdioKilledThroughAdmin: `warden kill` against a stdio process's
// admin API ends its session on record and for the client, whose next
// call reaches nothing.
func TestStdioKilledThroughAdmin(t *testing.T) {
	w := newStdioWarden(t)
	endedThroughAdmin(t, w, []string{"kill", "--agent", "desktop", "--reason", "test kill", "--by", "tester"},
		"killed 1 session of agent desktop", "test kill")
	if !w.stderr.has("the session was killed by tester: test kill") {
		t.Errorf("the process did not say why it ended; stderr:\n%s", w.stderr)
	}
}

// TestStdioSuspended: `warden agents suspend` (without --kill) against a
// stdio process ends its session (stdio has no request to refuse), and a
// new stdio process for the suspended agent serves nothing: the
// suspension is read from the history at start.
func TestStdioSuspended(t *testing.T) {
	w := newStdioWarden(t)
	endedThroughAdmin(t, w, []string{"agents", "suspend", "desktop", "--reason", "leaked prompt", "--by", "tester"},
		"suspended agent desktop", "agent suspended by tester: leaked prompt")

	// The suspension outlives the process.
	c, err := w.start(t)
	if err == nil {
		ok, text := send(c, "attacker@evil.com")
		t.Fatalf("a suspended agent was served over stdio (call went through: %v, %s)", ok, text)
	}
	if sessions, _ := w.history(t); len(sessions) != 1 {
		t.Fatalf("the suspended agent got a session: %+v", sessions)
	}
	if !w.stderr.has("the agent is suspended (by tester: leaked prompt)") {
		t.Errorf("the process did not say why it served nothing; stderr:\n%s", w.stderr)
	}
	if got := w.sent(); len(got) != 1 {
		t.Fatalf("the upstream ran %+v; want only the call before the suspension", got)
	}
}

// lines collects what a process writes to stderr.
type lines struct {
	mu      sync.Mutex
	all     []string
	changed chan struct{} // closed and replaced at each new line
}

func collect(r interface{ Read([]byte) (int, error) }) *lines {
	l := &lines{changed: make(chan struct{})}
	if r == nil {
		return l
	}
	go func() {
		sc := bufio.NewScanner(r)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			l.mu.Lock()
			l.all = append(l.all, sc.Text())
			close(l.changed)
			l.changed = make(chan struct{})
			l.mu.Unlock()
		}
	}()
	return l
}

// await returns the first line matching re, waiting up to timeout for it.
func (l *lines) await(re *regexp.Regexp, timeout time.Duration) (string, bool) {
	stop := time.After(timeout)
	for {
		l.mu.Lock()
		for _, s := range l.all {
			if re.MatchString(s) {
				l.mu.Unlock()
				return s, true
			}
		}
		ch := l.changed
		l.mu.Unlock()
		select {
		case <-ch:
		case <-stop:
			return "", false
		}
	}
}

// has reports whether a line holds s, waiting a little for the writer.
func (l *lines) has(s string) bool {
	_, ok := l.await(regexp.MustCompile(regexp.QuoteMeta(s)), 10*time.Second)
	return ok
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.all, "\n")
}
