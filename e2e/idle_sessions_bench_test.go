package e2e

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const (
	idleSessions = 1000
	idleToken    = "idle-token-0123456789abcdef"
	// openers bounds how many sessions are being opened at once; the
	// sessions themselves are all held at the same time.
	openers = 32
)

// idleWarden runs warden in this process for a benchmark or a test; it is
// startWarden for testing.TB.
func idleWarden(tb testing.TB, specs []tools.Spec) (url string, db *store.DB, hub *tools.Hub) {
	tb.Helper()
	db, err := store.Open(filepath.Join(tb.TempDir(), "warden.db"))
	if err != nil {
		tb.Fatal(err)
	}
	logger := log.NewWithOptions(os.Stderr, log.Options{Level: log.WarnLevel, Prefix: "warden"})
	hub, err = tools.NewHub(specs, tools.Options{Logger: logger})
	if err != nil {
		tb.Fatal(err)
	}
	sup, err := supervisor.New(supervisor.Options{Store: db, Hub: hub, Logger: logger,
		Agents: []supervisor.Agent{{Name: "idle", TokenSHA256: hashToken(idleToken)}}})
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: sup.Handler(), ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
		_ = sup.Close(ctx)
		_ = hub.Close()
		_ = db.Close()
	})
	return "http://" + ln.Addr().String() + "/mcp", db, hub
}

// rawClient speaks MCP as bare HTTP POSTs. Keep-alive is off, so that no
// connection (and no server goroutine serving one) outlives its request:
// what warden holds afterwards is the sessions alone.
func rawClient() *http.Client {
	return &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
}

// rawPost sends one JSON-RPC message and returns the status, the session
// id header and the JSON-RPC message of the answer (from a JSON body or
// the first SSE data line).
func rawPost(ctx context.Context, hc *http.Client, url, sid, body string) (int, string, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		return 0, "", nil, err
	}
	req.Header.Set("Authorization", "Bearer "+idleToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if sid != "" {
		req.Header.Set("Mcp-Session-Id", sid)
		req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, "", nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, "", nil, fmt.Errorf("read answer: %w", err)
	}
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		sc := bufio.NewScanner(bytes.NewReader(data))
		sc.Buffer(nil, 1<<20)
		data = nil
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
				data = []byte(strings.TrimSpace(d))
				break
			}
		}
	}
	return resp.StatusCode, resp.Header.Get("Mcp-Session-Id"), data, nil
}

// openRawSession initialises a session and sends the initialized
// notification; it returns the session id, copied so that nothing else
// of the exchange stays reachable.
func openRawSession(ctx context.Context, hc *http.Client, url string) (string, error) {
	const initBody = `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"idle","version":"1"}}}`
	status, sid, _, err := rawPost(ctx, hc, url, "", initBody)
	if err != nil {
		return "", fmt.Errorf("initialize: %w", err)
	}
	if status != http.StatusOK || sid == "" {
		return "", fmt.Errorf("initialize answered %d with session id %q", status, sid)
	}
	status, _, _, err = rawPost(ctx, hc, url, sid, `{"jsonrpc":"2.0","method":"notifications/initialized"}`)
	if err != nil {
		return "", fmt.Errorf("initialized: %w", err)
	}
	if status != http.StatusAccepted {
		return "", fmt.Errorf("initialized answered %d", status)
	}
	return strings.Clone(sid), nil
}

// openIdleSessions opens n sessions, openers at a time, into ids (which
// the caller allocates, so that its size is not part of a measure); with
// call set, each session then calls echo once.
func openIdleSessions(ctx context.Context, hc *http.Client, url string, ids []string, call bool) error {
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
	)
	next := make(chan int)
	for range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				id, err := openRawSession(ctx, hc, url)
				if err == nil && call {
					err = callEcho(ctx, hc, url, id)
				}
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					continue
				}
				ids[i] = id
			}
		}()
	}
	for i := range ids {
		next <- i
	}
	close(next)
	wg.Wait()
	return errors.Join(errs...)
}

// settledMemory collects garbage and waits (bounded) until the number of
// goroutines stops moving, so that connection goroutines that are ending
// are not counted; it returns the heap and stack in use and the goroutines.
func settledMemory() (heap, stack uint64, goroutines int) {
	last := -1
	for range 50 {
		n := runtime.NumGoroutine()
		if n == last {
			break
		}
		last = n
		time.Sleep(20 * time.Millisecond)
	}
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse, ms.StackInuse, runtime.NumGoroutine()
}

// BenchmarkIdleSessions measures what warden holds per idle agent
// session: 1,000 sessions are opened (initialize, then
// notifications/initialized) over bare HTTP with keep-alive off and left
// idle; heap and stack in use after a GC, before and after, minus the
// session ids the client keeps, divided by the number of sessions. Client
// and warden share the process, so the client holds nothing else: no
// client objects, no open connections.
//
// It does so three ways: with no upstream (the session alone), and with
// an upstream after each session called its echo tool once, over one
// upstream session shared by all (shared) or over one upstream session of
// its own (per_session, the default for HTTP upstreams), which it keeps
// open while idle. The upstream runs in a process of its own, so that its
// memory is not counted as warden's; per_session minus shared is what an
// agent session's upstream session costs warden.
func BenchmarkIdleSessions(b *testing.B) {
	for _, bc := range []struct {
		name string
		// sharing of the upstream; "" for no upstream and no call.
		sharing tools.Sharing
		// own: each agent session holds an upstream session of its own,
		// which the benchmark checks, so that it measures what it says.
		own bool
	}{
		{"no_upstream", "", false},
		{"shared", tools.Shared, false},
		{"per_session", tools.PerSession, true},
	} {
		b.Run(bc.name, func(b *testing.B) { benchIdleSessions(b, bc.sharing, bc.own) })
	}
}

func benchIdleSessions(b *testing.B, sharing tools.Sharing, own bool) {
	var specs []tools.Spec
	if sharing != "" {
		// The cap leaves room for the baseline sessions of every round.
		specs = []tools.Spec{{Name: "desk", URL: httpUpstream(b), Sharing: sharing, MaxSessions: 1 << 20}}
	}
	call := sharing != ""
	var perSession, heapPer, goroutinesPer float64
	for range b.N {
		b.StopTimer()
		url, _, hub := idleWarden(b, specs)
		hc := rawClient()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		// One session first: warden's and the HTTP stack's one-off state
		// (pools, lazily built tables) belongs to the baseline.
		if err := openIdleSessions(ctx, hc, url, make([]string, 1), call); err != nil {
			b.Fatal(err)
		}
		ids := make([]string, idleSessions)
		before := upstreamSessions(hub)
		heap0, stack0, g0 := settledMemory()
		b.StartTimer()
		if err := openIdleSessions(ctx, hc, url, ids, call); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		heap1, stack1, g1 := settledMemory()
		opened := upstreamSessions(hub) - before
		if want := map[bool]int{true: idleSessions}[own]; opened != want {
			b.Fatalf("%d upstream sessions opened for %d agent sessions, want %d", opened, idleSessions, want)
		}
		// The client keeps each 32-character id: one 32-byte allocation.
		clientHeld := int64(idleSessions * 32)
		dHeap := int64(heap1) - int64(heap0) - clientHeld
		dStack := int64(stack1) - int64(stack0)
		perSession += float64(dHeap+dStack) / idleSessions
		heapPer += float64(dHeap) / idleSessions
		goroutinesPer += float64(g1-g0) / idleSessions
		runtime.KeepAlive(ids)
		cancel()
	}
	b.ReportMetric(perSession/float64(b.N), "B/session")
	b.ReportMetric(heapPer/float64(b.N), "heap-B/session")
	b.ReportMetric(goroutinesPer/float64(b.N), "goroutines/session")
}

// upstreamSessions counts the upstream sessions warden holds for agents.
func upstreamSessions(hub *tools.Hub) int {
	n := 0
	for _, st := range hub.Status() {
		n += st.Sessions
	}
	return n
}

// callEcho makes one tools/call of the upstream's echo in session sid.
func callEcho(ctx context.Context, hc *http.Client, url, sid string) error {
	const body = `{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"echo","arguments":{"message":"hello"}}}`
	status, _, msg, err := rawPost(ctx, hc, url, sid, body)
	if err != nil {
		return fmt.Errorf("echo: %w", err)
	}
	var res struct {
		Result *struct {
			IsError bool `json:"isError"`
		} `json:"result"`
	}
	if status != http.StatusOK || json.Unmarshal(msg, &res) != nil || res.Result == nil || res.Result.IsError {
		return fmt.Errorf("echo answered %d: %s", status, msg)
	}
	return nil
}

// httpFixture is the fixture mode (see runFixture) in which this test
// binary serves the demo upstream over Streamable HTTP.
const httpFixture = "http"

// httpUpstream starts the demo upstream in a child process and returns its
// URL; the child ends when the benchmark does.
func httpUpstream(tb testing.TB) string {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), fixtureEnv+"="+httpFixture)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		tb.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = stdin.Close() // the child's signal to stop
		_ = cmd.Wait()
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		tb.Fatalf("the upstream child printed no URL: %v", err)
	}
	return strings.TrimSpace(line)
}

// runHTTPFixture is the child's main in httpFixture mode: it serves the
// demo upstream on a free loopback port, prints the URL, and stops when
// its stdin closes.
func runHTTPFixture() int {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	mux := http.NewServeMux()
	mux.Handle("/mcp", server.NewStreamableHTTPServer(demo.NewUpstream().Server(),
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	fmt.Printf("http://%s/mcp\n", ln.Addr())
	_, _ = io.Copy(io.Discard, os.Stdin)
	_ = srv.Close()
	return 0
}

// TestIdleSessionsHeld opens 1,000 sessions, leaves them idle, and then
// checks that warden holds every one of them: each is on record as active
// and each still answers tools/list with the upstream's tools.
func TestIdleSessionsHeld(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 sessions: not in -short")
	}
	up := serveUpstream(t, demo.NewUpstream().Server())
	url, db, _ := idleWarden(t, []tools.Spec{{Name: "desk", URL: up}})
	hc := rawClient()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	ids := make([]string, idleSessions)
	if err := openIdleSessions(ctx, hc, url, ids, false); err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		seen[id] = true
	}
	if len(seen) != idleSessions {
		t.Fatalf("%d distinct session ids for %d sessions", len(seen), idleSessions)
	}
	active, err := db.Sessions(ctx, store.Filter{Agent: "idle", State: store.StateActive})
	if err != nil || len(active) != idleSessions {
		t.Fatalf("%d active sessions on record, want %d (%v)", len(active), idleSessions, err)
	}

	// Every session, after all were opened, still answers.
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		failures []string
	)
	next := make(chan string)
	for range openers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range next {
				if err := listFive(ctx, hc, url, id); err != nil {
					mu.Lock()
					failures = append(failures, id+": "+err.Error())
					mu.Unlock()
				}
			}
		}()
	}
	for _, id := range ids {
		next <- id
	}
	close(next)
	wg.Wait()
	if len(failures) > 0 {
		t.Fatalf("%d of %d sessions did not answer tools/list; first: %s", len(failures), idleSessions, failures[0])
	}
}

// listFive asks a session for tools/list and wants the demo's five tools.
func listFive(ctx context.Context, hc *http.Client, url, sid string) error {
	status, _, msg, err := rawPost(ctx, hc, url, sid, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("status %d: %s", status, msg)
	}
	var res struct {
		Result struct {
			Tools []struct {
				Name string `json:"name"`
			} `json:"tools"`
		} `json:"result"`
	}
	if err := json.Unmarshal(msg, &res); err != nil {
		return fmt.Errorf("answer %q: %w", msg, err)
	}
	if len(res.Result.Tools) != 5 {
		return fmt.Errorf("%d tools, want the demo's 5: %s", len(res.Result.Tools), msg)
	}
	return nil
}
