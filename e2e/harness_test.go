package e2e

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/charmbracelet/log"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// serveHTTP serves h on a fresh 127.0.0.1 port until the test ends and
// returns its base URL.
func serveHTTP(t *testing.T, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return "http://" + ln.Addr().String()
}

// serveUpstream serves an MCP server over Streamable HTTP at /mcp.
func serveUpstream(t *testing.T, s *server.MCPServer) string {
	t.Helper()
	h := server.NewStreamableHTTPServer(s,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26"),
		server.WithEventStore(server.NewInMemoryEventStore()),
	)
	mux := http.NewServeMux()
	mux.Handle("/mcp", h)
	return serveHTTP(t, mux) + "/mcp"
}

func hashToken(tok string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:])
}

// wardenUnderTest is a running warden: its URL, its store and its path.
type wardenUnderTest struct {
	URL    string
	Store  *store.DB
	DBPath string
	Sup    *supervisor.Supervisor
	Hub    *tools.Hub
	stop   func()
}

// startWarden runs warden in this process in front of the given upstreams,
// with a real bbolt file, serving on 127.0.0.1.
func startWarden(t *testing.T, specs []tools.Spec, agents []supervisor.Agent, tweak ...func(*supervisor.Options)) *wardenUnderTest {
	t.Helper()
	return startWardenOn(t, filepath.Join(t.TempDir(), "warden.db"), specs, agents, tweak...)
}

// startWardenOn is startWarden on a given history file, as after a restart.
func startWardenOn(t *testing.T, dbPath string, specs []tools.Spec, agents []supervisor.Agent, tweak ...func(*supervisor.Options)) *wardenUnderTest {
	t.Helper()
	db, err := store.Open(dbPath)
	if err != nil {
		t.Fatal(err)
	}
	logger := log.NewWithOptions(os.Stderr, log.Options{Level: log.WarnLevel, Prefix: "warden"})
	opts := supervisor.Options{Store: db, Agents: agents, Logger: logger}
	for _, f := range tweak {
		f(&opts)
	}
	hub, err := tools.NewHub(specs, tools.Options{Logger: logger, Names: db})
	if err != nil {
		t.Fatal(err)
	}
	opts.Hub = hub
	sup, err := supervisor.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := sup.Start(ctx); err != nil {
		t.Fatal(err)
	}
	url, stopHTTP := serveHTTPStoppable(t, sup.Handler())
	w := &wardenUnderTest{URL: url + "/mcp", Store: db, DBPath: dbPath, Sup: sup, Hub: hub}
	w.stop = sync.OnceFunc(func() {
		stopHTTP()
		_ = sup.Close(context.Background())
		_ = hub.Close()
		_ = db.Close()
	})
	t.Cleanup(w.stop)
	return w
}

// Stop shuts warden down, as a restart would, before the test ends.
func (w *wardenUnderTest) Stop() { w.stop() }

// serveHTTPStoppable is serveHTTP with a way to stop serving early.
func serveHTTPStoppable(t *testing.T, h http.Handler) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	stop := sync.OnceFunc(func() { _ = srv.Close() })
	t.Cleanup(stop)
	return "http://" + ln.Addr().String(), stop
}

// connect opens an initialised mcp-go client session to url with token.
func connect(t *testing.T, url, token string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	c, err := dial(url, token, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// dial opens a client session as agent frameworks do: with a standing GET
// stream, which is how an MCP server sends requests (sampling, roots) and
// notifications unrelated to a call.
func dial(url, token string, opts ...client.ClientOption) (*client.Client, error) {
	return testkit.Dial(url, token, "e2e-agent", []transport.StreamableHTTPCOption{transport.WithContinuousListening()}, opts...)
}

// startClient starts a client and runs the initialize handshake as name;
// the client is closed if that fails.
func startClient(c *client.Client, name string) (*client.Client, error) {
	if err := testkit.Start(c, name); err != nil {
		return nil, err
	}
	return c, nil
}

func callTool(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = name
	req.Params.Arguments = args
	res, err := c.CallTool(ctx, req)
	if err != nil {
		t.Fatalf("call %s: %v", name, err)
	}
	return res
}

func resultText(res *mcp.CallToolResult) string {
	var s string
	for _, c := range res.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			s += tc.Text
		}
	}
	return s
}

func storeFilter(agent string) store.Filter { return store.Filter{Agent: agent} }

// rejoin starts a client on an existing session id, without initialising,
// as an agent does that carries on with its session after warden restarts.
func rejoin(t *testing.T, url, token, sid string) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + token}), transport.WithSession(sid))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, client.WithSession(), client.WithProtocolVersion(mcp.LATEST_LEGACY_PROTOCOL_VERSION))
	if err := c.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}
