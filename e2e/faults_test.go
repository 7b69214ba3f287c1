package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const faultToken = "fault-token-0123456789"

var faultAgents = []supervisor.Agent{{Name: "agent", TokenSHA256: hashToken(faultToken)}}

// faultyUpstreams are the faulty server reached as a stdio child and over
// Streamable HTTP, with a call timeout of timeout.
func faultyUpstreams(t *testing.T, timeout time.Duration) map[string]tools.Spec {
	t.Helper()
	release := make(chan struct{})
	url := serveUpstream(t, faultyServer(release))
	// Registered after serveUpstream so that it runs first: hung handlers
	// return and the server can shut down.
	t.Cleanup(func() { close(release) })
	stdio := stdioFixture(t, "faulty")
	stdio.CallTimeout = timeout
	return map[string]tools.Spec{
		"stdio": stdio,
		"http":  {Name: "faulty", URL: url, CallTimeout: timeout},
	}
}

// tryCall calls a tool and returns the result or the protocol error.
func tryCall(c *client.Client, name string, args map[string]any) (*mcp.CallToolResult, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	return c.CallTool(ctx, req)
}

// resultEvent returns the single recorded result of tool in the agent's
// only session.
func resultEvent(t *testing.T, db *store.DB, tool string) store.Event {
	t.Helper()
	ctx := context.Background()
	sessions, err := db.Sessions(ctx, storeFilter("agent"))
	if err != nil || len(sessions) != 1 {
		t.Fatalf("sessions = %v, %v; want 1", sessions, err)
	}
	evs, err := db.Events(ctx, sessions[0].ID)
	if err != nil {
		t.Fatal(err)
	}
	var calls, results []store.Event
	for _, e := range evs {
		if e.Tool != tool {
			continue
		}
		switch e.Kind {
		case store.KindCall:
			calls = append(calls, e)
		case store.KindResult:
			results = append(results, e)
		}
	}
	if len(calls) != 1 || len(results) != 1 || calls[0].CallID != results[0].CallID {
		t.Fatalf("history of %s: %d calls, %d results; want one of each with the same call id", tool, len(calls), len(results))
	}
	return results[0]
}

// wantToolError checks that res is a tool error whose text contains every
// one of parts.
func wantToolError(t *testing.T, res *mcp.CallToolResult, parts ...string) {
	t.Helper()
	text := resultText(res)
	if !res.IsError {
		t.Fatalf("want a tool error, got a result of %d bytes: %.200s", len(text), text)
	}
	for _, p := range parts {
		if !strings.Contains(text, p) {
			t.Fatalf("tool error %q does not say %q", text, p)
		}
	}
}

// TestUpstreamExitsMidCall: a stdio upstream that dies while serving a
// call gives the agent a tool error naming it; warden restarts the child
// and a later call succeeds on the new process.
//
// Shared, the child is warden's supervised connection, restarted once. Per
// agent (stdio's default), the agent's own child is replaced by a new one
// on the next call, and the replacement is on record.
func TestUpstreamExitsMidCall(t *testing.T) {
	for _, sharing := range []tools.Sharing{tools.Shared, tools.PerAgent} {
		t.Run(string(sharing), func(t *testing.T) { upstreamExitsMidCall(t, sharing) })
	}
}

func upstreamExitsMidCall(t *testing.T, sharing tools.Sharing) {
	starts := filepath.Join(t.TempDir(), "starts")
	spec := stdioFixture(t, "flaky", startsEnv+"="+starts)
	spec.Sharing, spec.Spare = sharing, -1
	w := startWarden(t, []tools.Spec{spec}, faultAgents)
	c := connect(t, w.URL, faultToken)

	first := resultText(callTool(t, c, "pid", nil))
	res := callTool(t, c, "crash", nil)
	wantToolError(t, res, `upstream "flaky"`, `tool "crash"`, "transport closed")

	// The child is restarted and the same agent session goes on.
	var second string
	waitFor(t, 10*time.Second, "a call on the restarted child", func() bool {
		res, err := tryCall(c, "pid", nil)
		if err != nil || res.IsError {
			return false
		}
		second = resultText(res)
		return true
	})
	if second == first || second == "" {
		t.Fatalf("pid after the crash = %q, before = %q: not a new process", second, first)
	}
	// warden's own child, and the agent's before and after the crash
	want := map[tools.Sharing]int{tools.Shared: 2, tools.PerAgent: 3}[sharing]
	if n := len(readStarts(starts)); n != want {
		t.Fatalf("child started %d times, want %d (one restart, the crashing call not retried)", n, want)
	}
	ev := resultEvent(t, w.Store, "crash")
	if ev.OK || !strings.Contains(ev.Error, "transport closed") {
		t.Fatalf("crash result on record = ok %v, error %q", ev.OK, ev.Error)
	}
	// Only warden's own connection counts as restarted: per agent, the
	// crash was the agent's child's.
	restarts := map[tools.Sharing]int64{tools.Shared: 1, tools.PerAgent: 0}[sharing]
	if st := w.Hub.Status(); len(st) != 1 || !st[0].Connected || st[0].Restarts != restarts {
		t.Fatalf("status after recovery = %+v, want connected with %d restarts", st, restarts)
	}
}

// TestUpstreamCrashLoopBacksOff: a child that dies at start is restarted
// with growing delays, and serves once it stops dying.
//
// It is warden's own supervised connection to the upstream that backs off,
// so the upstream is shared here (no agent's child starts beside it).
func TestUpstreamCrashLoopBacksOff(t *testing.T) {
	starts := filepath.Join(t.TempDir(), "starts")
	spec := stdioFixture(t, "loop", startsEnv+"="+starts, failFirstEnv+"=3")
	spec.Sharing = tools.Shared
	w := startWarden(t, []tools.Spec{spec}, faultAgents)
	c := connect(t, w.URL, faultToken)
	waitFor(t, 15*time.Second, "the child to serve after three failed starts", func() bool {
		res, err := tryCall(c, "pid", nil)
		return err == nil && !res.IsError
	})
	at := readStarts(starts)
	if len(at) != 4 {
		t.Fatalf("child started %d times, want 4 (3 failures, then up)", len(at))
	}
	// Load only lengthens the gaps, so lower bounds are safe: the first
	// retry waits at least ~200 ms, and each wait doubles.
	want := 180 * time.Millisecond
	for i := 1; i < len(at); i++ {
		if gap := at[i].Sub(at[i-1]); gap < want {
			t.Fatalf("restart %d came %s after the previous start, want >= %s (backoff %v)", i, gap, want, at)
		}
		want *= 2
	}
}

// TestUpstreamHangs: a call that never returns ends at the upstream's call
// timeout with a clear tool error on record, and the upstream stays usable.
func TestUpstreamHangs(t *testing.T) {
	const timeout = 400 * time.Millisecond
	for name, spec := range faultyUpstreams(t, timeout) {
		t.Run(name, func(t *testing.T) {
			w := startWarden(t, []tools.Spec{spec}, faultAgents)
			c := connect(t, w.URL, faultToken)
			start := time.Now()
			res := callTool(t, c, "hang", nil)
			took := time.Since(start)
			wantToolError(t, res, `upstream "faulty"`, `tool "hang"`, "no answer within 400ms")
			if took < timeout {
				t.Fatalf("timed out after %s, before the %s timeout", took, timeout)
			}
			ev := resultEvent(t, w.Store, "hang")
			if ev.OK || !strings.Contains(ev.Error, "no answer within 400ms") {
				t.Fatalf("hang result on record = ok %v, error %q", ev.OK, ev.Error)
			}
			if got := resultText(callTool(t, c, "echo", map[string]any{"message": "still there"})); got != "still there" {
				t.Fatalf("echo after a hang = %q", got)
			}
		})
	}
}

// TestInvalidToolDefinitions: tools that would panic mcp-go's AddTool are
// dropped; warden stays up and the valid tools work.
func TestInvalidToolDefinitions(t *testing.T) {
	for name, spec := range faultyUpstreams(t, 0) {
		t.Run(name, func(t *testing.T) {
			w := startWarden(t, []tools.Spec{spec}, faultAgents)
			c := connect(t, w.URL, faultToken)
			list, err := c.ListTools(context.Background(), mcp.ListToolsRequest{})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, tl := range list.Tools {
				names = append(names, tl.Name)
			}
			slices.Sort(names)
			if got := strings.Join(names, ","); got != "crash,echo,hang,huge,pid" {
				t.Fatalf("tools through warden = %q, want only the valid ones", got)
			}
			for _, bad := range invalidToolNames {
				if _, err := tryCall(c, bad, nil); err == nil {
					t.Fatalf("dropped tool %q is callable", bad)
				}
			}
			if got := resultText(callTool(t, c, "echo", map[string]any{"message": "valid"})); got != "valid" {
				t.Fatalf("echo = %q", got)
			}
		})
	}
}

// TestHugeResult: an answer over tools.MaxResultBytes is refused with a
// clear error; warden and the upstream go on.
func TestHugeResult(t *testing.T) {
	for name, spec := range faultyUpstreams(t, 0) {
		t.Run(name, func(t *testing.T) {
			w := startWarden(t, []tools.Spec{spec}, faultAgents)
			c := connect(t, w.URL, faultToken)
			res := callTool(t, c, "huge", nil)
			wantToolError(t, res, `upstream "faulty"`, `tool "huge"`, fmt.Sprintf("exceeds the %d-byte limit", tools.MaxResultBytes))
			if n := len(resultText(res)); n > 4096 {
				t.Fatalf("the refusal carries %d bytes", n)
			}
			ev := resultEvent(t, w.Store, "huge")
			if ev.OK || !strings.Contains(ev.Error, "exceeds") {
				t.Fatalf("huge result on record = ok %v, error %q", ev.OK, ev.Error)
			}
			if got := resultText(callTool(t, c, "echo", map[string]any{"message": "after huge"})); got != "after huge" {
				t.Fatalf("echo = %q", got)
			}
		})
	}
}

// strictIDs is a session id manager that knows only the ids it issued, as
// a real server does, and can end one (mcp-go's default accepts any id).
type strictIDs struct {
	mu     sync.Mutex
	n      int
	live   map[string]bool
	ended  map[string]bool
	issued atomic.Int32
}

func newStrictIDs() *strictIDs {
	return &strictIDs{live: map[string]bool{}, ended: map[string]bool{}}
}

func (m *strictIDs) Generate() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.n++
	m.issued.Add(1)
	id := fmt.Sprintf("up-%d-%d", time.Now().UnixNano(), m.n)
	m.live[id] = true
	return id
}

func (m *strictIDs) Validate(id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	switch {
	case m.live[id]:
		return false, nil
	case m.ended[id]:
		return true, nil
	}
	return false, errors.New("unknown session")
}

func (m *strictIDs) Terminate(id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.live, id)
	m.ended[id] = true
	return false, nil
}

// endAll ends every live session, as a server that expires them does.
func (m *strictIDs) endAll() {
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.live {
		delete(m.live, id)
		m.ended[id] = true
	}
}

// generationUpstream is an HTTP upstream that can be restarted on its
// address; its tool "gen" names the incarnation that answered and counts
// how often it ran.
type generationUpstream struct {
	t    *testing.T
	addr string
	ids  *strictIDs
	srv  *http.Server
	gen  int
	runs atomic.Int32
}

func (g *generationUpstream) start() {
	g.t.Helper()
	g.gen++
	g.ids = newStrictIDs()
	gen := g.gen
	s := server.NewMCPServer("gen", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("gen"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		g.runs.Add(1)
		return mcp.NewToolResultText(fmt.Sprint(gen)), nil
	})
	h := server.NewStreamableHTTPServer(s,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26"),
		server.WithSessionIdManager(g.ids))
	addr := g.addr
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	var ln net.Listener
	var err error
	// The old listener's port is free again at once (SO_REUSEADDR); retry
	// briefly in case the kernel is slow to release it.
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		g.t.Fatal(err)
	}
	g.addr = ln.Addr().String()
	g.srv = &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = g.srv.Serve(ln) }()
}

// stop closes the server and every connection, streams included.
func (g *generationUpstream) stop() { _ = g.srv.Close() }

// TestHTTPUpstreamSessionLost: when the upstream forgets warden's session
// (it restarted, or ended the session), warden initialises a new one and
// the agent's call goes through, once: on warden's own session when the
// upstream is shared, on a new one for the agent session otherwise, which
// is on record as replacing the one whose state is gone.
func TestHTTPUpstreamSessionLost(t *testing.T) {
	for _, sharing := range []tools.Sharing{tools.Shared, tools.PerSession} {
		t.Run(string(sharing), func(t *testing.T) { httpUpstreamSessionLost(t, sharing) })
	}
}

func httpUpstreamSessionLost(t *testing.T, sharing tools.Sharing) {
	cases := []struct {
		name    string
		lose    func(g *generationUpstream)
		wantGen string
		// sessions the current incarnation issued in all
		wantIssued int32
	}{
		{"upstream restarted", func(g *generationUpstream) { g.stop(); g.start() }, "2", 1},
		{"session terminated", func(g *generationUpstream) { g.ids.endAll() }, "1", 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			g := &generationUpstream{t: t}
			g.start()
			t.Cleanup(func() { g.stop() })
			w := startWarden(t, []tools.Spec{{Name: "gen", URL: "http://" + g.addr + "/mcp", Sharing: sharing}}, faultAgents)
			c := connect(t, w.URL, faultToken)
			if got := resultText(callTool(t, c, "gen", nil)); got != "1" {
				t.Fatalf("gen = %q", got)
			}
			tc.lose(g)
			res := callTool(t, c, "gen", nil)
			if res.IsError || resultText(res) != tc.wantGen {
				t.Fatalf("first call after the session was lost: error %v, %q; want %q", res.IsError, resultText(res), tc.wantGen)
			}
			if n := g.runs.Load(); n != 2 {
				t.Fatalf("upstream ran the tool %d times for 2 calls (a retry must not run it twice)", n)
			}
			// Per session, warden's own session reconnects beside the
			// agent's, in its own time: only the shared count is exact.
			if n := g.ids.issued.Load(); sharing == tools.Shared && n != tc.wantIssued {
				t.Fatalf("upstream issued %d sessions, want %d: warden did not re-initialise once", n, tc.wantIssued)
			}
			// Both calls are on record once each, both OK.
			sessions, err := w.Store.Sessions(context.Background(), storeFilter("agent"))
			if err != nil || len(sessions) != 1 {
				t.Fatalf("sessions = %v, %v", sessions, err)
			}
			evs, err := w.Store.Events(context.Background(), sessions[0].ID)
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, e := range evs {
				k := e.Kind
				if e.Kind == store.KindResult && !e.OK {
					k += "(failed: " + e.Error + ")"
				}
				if e.Kind == store.KindUpstreamSession {
					var d struct{ Action string }
					_ = json.Unmarshal(e.Data, &d)
					k = d.Action
				}
				kinds = append(kinds, k)
			}
			want := "session_start call result call result"
			if sharing == tools.PerSession {
				want = "session_start call opened result call closed reopened result"
			}
			if got := strings.Join(kinds, " "); got != want {
				t.Fatalf("timeline = %s", got)
			}
		})
	}
}
