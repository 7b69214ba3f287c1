package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

const crashToken = "crash-token-0123456789"

// buildWarden builds the warden command into a temporary folder.
func buildWarden(t *testing.T) string {
	t.Helper()
	return buildCommand(t, "./cmd/warden")
}

// buildCommand builds the command in pkg (relative to the module root) into
// a temporary folder, without the race detector.
func buildCommand(t *testing.T, pkg string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), filepath.Base(pkg))
	cmd := exec.Command("go", "build", "-o", bin, pkg)
	cmd.Dir = filepath.Dir(e2eDir(t))
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	return bin
}

// wardenProcess is `warden serve` running as its own process.
type wardenProcess struct {
	cmd    *exec.Cmd
	url    string
	stderr *testkit.SyncBuffer
	done   chan error
}

// startServe runs `warden serve -c cfg` and returns once it logs its MCP URL.
func startServe(t *testing.T, bin, cfg string) *wardenProcess {
	t.Helper()
	cmd := exec.Command(bin, "serve", "-c", cfg)
	out, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &wardenProcess{cmd: cmd, stderr: &testkit.SyncBuffer{}, done: make(chan error, 1)}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			_, _ = p.stderr.Write(append(sc.Bytes(), '\n'))
			var line struct {
				Msg string `json:"msg"`
				MCP string `json:"mcp"`
			}
			if json.Unmarshal(sc.Bytes(), &line) == nil && line.Msg == "warden serving" {
				urlc <- line.MCP
			}
		}
		p.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-p.done
		}
	})
	select {
	case p.url = <-urlc:
	case err := <-p.done:
		t.Fatalf("warden serve exited before serving: %v\n%s", err, p.stderr.String())
	case <-time.After(30 * time.Second):
		t.Fatalf("warden serve did not log its URL within 30s\n%s", p.stderr.String())
	}
	return p
}

// deskServeConfig builds warden and the desk upstream and writes, in a
// new folder, a config serving desk on a free loopback port with JSON
// logs, the top-level settings given and one agent. It returns the
// binary, the config and the data folder.
func deskServeConfig(t *testing.T, settings, agent, token string) (bin, cfg, data string) {
	t.Helper()
	bin = buildWarden(t)
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	dir := t.TempDir()
	cfg, data = filepath.Join(dir, "warden.yaml"), filepath.Join(dir, "data")
	yaml := fmt.Sprintf(`listen: 127.0.0.1:0
data_dir: %s
log: {level: info, format: json}
%supstreams:
  - name: desk
    stdio: {command: %q}
agents:
  - name: %s
    token_sha256: %s
`, data, settings, desk, agent, hashToken(token))
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return bin, cfg, data
}

// kill sends SIGKILL and waits for the process to be gone.
func (p *wardenProcess) kill(t *testing.T) {
	t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatal("warden did not die within 10s of SIGKILL")
	}
	if ws, ok := p.cmd.ProcessState.Sys().(syscall.WaitStatus); !ok || ws.Signal() != syscall.SIGKILL {
		t.Fatalf("warden ended with %v, not by SIGKILL: it was not running under load", p.cmd.ProcessState)
	}
}

// crashPad makes each echo large (its call and its result both recorded),
// so that a round drives the write-ahead log through several wraps.
var crashPad = ":" + strings.Repeat("p", 56<<10)

// load runs agents client sessions that call echo with unique, large
// messages until their warden goes away, and returns the messages (without
// their padding) whose result came back. It kills warden once at least
// killAfter results came back.
func load(t *testing.T, p *wardenProcess, round, agents, killAfter int) (acked, sessions []string) {
	t.Helper()
	var (
		mu    sync.Mutex
		total atomic.Int32
		wg    sync.WaitGroup
	)
	clients := make([]*client.Client, agents)
	for i := range clients {
		c, err := quietDial(p.url, crashToken)
		if err != nil {
			t.Fatalf("client %d cannot connect: %v\n%s", i, err, p.stderr.String())
		}
		clients[i] = c
	}
	for _, c := range clients {
		sessions = append(sessions, c.GetSessionId())
	}
	for i, c := range clients {
		sid := c.GetSessionId()
		wg.Add(1)
		go func() {
			defer wg.Done()
			hc := &http.Client{Timeout: 5 * time.Second}
			for n := 0; n < 100000; n++ {
				msg := fmt.Sprintf("round%d-client%d-call%d", round, i, n)
				ok, err := rawEcho(hc, p.url, sid, n+100, msg+crashPad)
				if err != nil {
					return // warden is gone
				}
				if !ok {
					t.Errorf("echo %q did not come back whole", msg)
					return
				}
				mu.Lock()
				acked = append(acked, msg)
				mu.Unlock()
				total.Add(1)
			}
		}()
	}
	waitFor(t, 2*time.Minute, fmt.Sprintf("%d acknowledged calls", killAfter), func() bool { return int(total.Load()) >= killAfter })
	p.kill(t)
	wg.Wait()
	for _, c := range clients {
		_ = c.Close()
	}
	mu.Lock()
	defer mu.Unlock()
	return acked, sessions
}

// rawEcho calls echo with msg on session sid over plain HTTP and reports
// whether the echo came back whole and not as an error. It sends and reads
// the JSON-RPC bytes as they are: mcp-go's client decoding large results
// under the race detector costs far more than warden does, and would set
// the pace of the test. err is non-nil when warden did not answer.
func rawEcho(hc *http.Client, url, sid string, id int, msg string) (bool, error) {
	body := `{"jsonrpc":"2.0","id":` + strconv.Itoa(id) + `,"method":"tools/call","params":{"name":"echo","arguments":{"message":"` + msg + `"}}}`
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+crashToken)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return false, err
	}
	if resp.StatusCode != http.StatusOK {
		return false, fmt.Errorf("status %d: %.200s", resp.StatusCode, b)
	}
	return bytes.Contains(b, []byte(msg)) && !bytes.Contains(b, []byte(`"isError":true`)), nil
}

// quietDial is dial without mcp-go's client logging, which reports every
// broken stream loudly once warden is killed.
func quietDial(url, token string) (*client.Client, error) {
	tr, err := transport.NewStreamableHTTP(url,
		transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}),
		transport.WithHTTPLogger(slog.New(slog.DiscardHandler)))
	if err != nil {
		return nil, err
	}
	return startClient(client.NewClient(tr, client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION)), "crash-load")
}

// recorded reads every echo call and result in the history at path, keyed
// by message; it fails on a result with no call before it.
func recorded(t *testing.T, path string) (calls, results map[string]bool, sessions int) {
	t.Helper()
	db, err := store.Open(path, store.WithLockTimeout(5*time.Second))
	if err != nil {
		t.Fatalf("open history after the crash: %v", err)
	}
	defer db.Close()
	ctx := context.Background()
	all, err := db.Sessions(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	calls, results = map[string]bool{}, map[string]bool{}
	for _, s := range all {
		evs, err := db.Events(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		msgOf := map[string]string{} // call id → message
		for _, e := range evs {
			switch e.Kind {
			case store.KindCall:
				var args struct{ Message string }
				if err := json.Unmarshal(e.Args, &args); err != nil || args.Message == "" {
					t.Fatalf("call event with args %.200s", e.Args)
				}
				msg, _, _ := strings.Cut(args.Message, ":")
				calls[msg] = true
				msgOf[e.CallID] = msg
			case store.KindResult:
				msg, ok := msgOf[e.CallID]
				if !ok {
					t.Fatalf("session %s: result %d has no call before it", s.ID, e.Seq)
				}
				if e.OK {
					results[msg] = true
				}
			}
		}
	}
	return calls, results, len(all)
}

// verifyCLI runs `warden verify --db path` and wants exit 0, "intact".
func verifyCLI(t *testing.T, bin, path string) {
	t.Helper()
	out, err := exec.Command(bin, "verify", "--db", path).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "intact:") {
		t.Fatalf("warden verify --db: %v\n%s", err, out)
	}
}

// walEpoch reads the epoch from the header of warden's write-ahead log
// ("WAL2", then the epoch, little-endian; see store/wal.go); 0 when there
// is no log yet. Every start and every wrap moves it on by one.
func walEpoch(t *testing.T, db string) uint32 {
	t.Helper()
	b, err := os.ReadFile(db + "-wal")
	if os.IsNotExist(err) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 8 || string(b[:4]) != "WAL2" {
		t.Fatalf("%s-wal does not start with a log header", db)
	}
	return binary.LittleEndian.Uint32(b[4:8])
}

// TestCrashKeepsHistory kills warden with SIGKILL under sustained load of
// large calls, after the write-ahead log has wrapped several times, in
// several rounds: every call whose result reached an agent is on record
// with its result, the hash chains verify, and warden serves again on
// restart.
func TestCrashKeepsHistory(t *testing.T) {
	bin, cfg, data := deskServeConfig(t, "call_timeout: 10s\n", "loader", crashToken)
	db := filepath.Join(data, "warden.db")

	// A call writes about 115 KiB of log (its call and its result, each
	// under the 64 KiB a result is recorded with); the log wraps at 16 MiB,
	// so 470 calls wrap it three times. Each round kills at another point
	// of an epoch.
	const rounds, agents, minWraps = 3, 8, 3
	var acked, lastSessions []string
	for round := 1; round <= rounds; round++ {
		before := walEpoch(t, db)
		p := startServe(t, bin, cfg)
		got, ids := load(t, p, round, agents, 470+50*round)
		if wraps := walEpoch(t, db) - before - 1; wraps < minWraps {
			t.Fatalf("round %d: the log wrapped %d times before the kill; the test needs %d", round, wraps, minWraps)
		}
		acked, lastSessions = append(acked, got...), ids
		calls, results, sessions := recorded(t, db)
		for _, msg := range acked {
			if !calls[msg] || !results[msg] {
				t.Fatalf("round %d: %q reached its agent but history has call %v, result %v", round, msg, calls[msg], results[msg])
			}
		}
		if sessions != round*agents {
			t.Fatalf("round %d: %d sessions on record, want %d", round, sessions, round*agents)
		}
		t.Logf("round %d: %d results acknowledged in all, %d calls on record", round, len(acked), len(calls))
		verifyCLI(t, bin, db)
	}

	// Warden comes back on the same configuration and history, and a
	// session of the last round carries on under its old id.
	p := startServe(t, bin, cfg)
	resumeOne(t, p.url, lastSessions[len(lastSessions)-1])
	c := connect(t, p.url, crashToken)
	if got := resultText(callTool(t, c, "echo", map[string]any{"message": "back"})); got != "back" {
		t.Fatalf("echo after restart = %q", got)
	}
	_ = c.Close()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := <-p.done; err != nil {
		t.Fatalf("warden serve after SIGTERM: %v\n%s", err, p.stderr.String())
	}
	calls, results, _ := recorded(t, db)
	if !calls["back"] || !results["back"] {
		t.Fatal("the call after restart is not on record")
	}
	verifyCLI(t, bin, db)
	closedRecords(t, db)
}

// resumeOne picks a session the crash left active and continues it with
// its old id: the call is answered and lands in the same chain.
func resumeOne(t *testing.T, url, id string) {
	t.Helper()
	if id == "" {
		t.Fatal("no session id from the last round")
	}
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + crashToken}), transport.WithSession(id))
	if err != nil {
		t.Fatal(err)
	}
	rc := client.NewClient(tr, client.WithSession(), client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	if err := rc.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got := resultText(callTool(t, rc, "echo", map[string]any{"message": "resumed-" + id})); got != "resumed-"+id {
		t.Fatalf("echo on the resumed session = %q", got)
	}
}

// closedRecords checks that after restarts every forwarded call has a
// result, real or "interrupted", and that the resumed session's call is in
// its own chain.
func closedRecords(t *testing.T, path string) {
	t.Helper()
	st, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	ctx := context.Background()
	list, err := st.Sessions(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	interrupted, resumed := 0, 0
	for _, s := range list {
		evs, err := st.Events(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		open := map[string]bool{}
		for _, e := range evs {
			switch {
			case e.Kind == store.KindCall && e.Verdict == "allow":
				open[e.CallID] = true
				if strings.Contains(string(e.Args), "resumed-"+s.ID) {
					resumed++
				}
			case e.Kind == store.KindResult:
				delete(open, e.CallID)
				if strings.HasPrefix(e.Error, "interrupted:") {
					interrupted++
				}

			}
		}
		if len(open) > 0 {
			t.Errorf("session %s: %d forwarded calls have no result on record", s.ID, len(open))
		}
	}
	if resumed != 1 {
		t.Errorf("the resumed session's call is in %d chains, want its own", resumed)
	}
	t.Logf("%d calls in flight at the kills were closed as interrupted", interrupted)
}

// TestVerifyReportsADamagedLog: a write-ahead log whose header is corrupt
// may hold acknowledged events, so `warden verify` fails and names it
// (and so would a start), and the log is left as it was.
func TestVerifyReportsADamagedLog(t *testing.T) {
	bin := buildWarden(t)
	path := filepath.Join(t.TempDir(), "warden.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := db.CreateSession(ctx, store.Session{ID: "s1", Agent: "a", Started: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	verifyCLI(t, bin, path)
	b, err := os.ReadFile(path + "-wal")
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "JUNK")
	if err := os.WriteFile(path+"-wal", b, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "verify", "--db", path).CombinedOutput()
	if err == nil || !strings.Contains(string(out), "write-ahead log damaged") || !strings.Contains(string(out), path+"-wal") {
		t.Fatalf("warden verify over a damaged log: %v\n%s", err, out)
	}
	after, err := os.ReadFile(path + "-wal")
	if err != nil || !bytes.Equal(after, b) {
		t.Fatalf("the damaged log was changed (%v)", err)
	}
}
