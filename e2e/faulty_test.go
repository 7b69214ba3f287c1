package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/tools"
)

// The faulty upstream runs as a stdio child by re-executing this test
// binary with fixtureEnv set: a real process that warden starts, loses and
// restarts, without a separate build.
const (
	fixtureEnv = "WARDEN_E2E_FIXTURE"
	// startsEnv names a file the child appends one line to at each start,
	// so that a test can count restarts and time them.
	startsEnv = "WARDEN_E2E_STARTS"
	// failFirstEnv makes the child exit at start while fewer than this
	// many starts are recorded: a crash loop that ends.
	failFirstEnv = "WARDEN_E2E_FAIL_FIRST"
)

func TestMain(m *testing.M) {
	if mode := os.Getenv(fixtureEnv); mode != "" {
		os.Exit(runFixture(mode))
	}
	os.Exit(m.Run())
}

// runFixture is the child's main.
func runFixture(mode string) int {
	if mode == httpFixture {
		return runHTTPFixture()
	}
	if mode != "stdio" {
		fmt.Fprintf(os.Stderr, "unknown fixture mode %q\n", mode)
		return 2
	}
	if path := os.Getenv(startsEnv); path != "" {
		f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 2
		}
		fmt.Fprintf(f, "%d\n", time.Now().UnixNano())
		_ = f.Close()
		if n, _ := strconv.Atoi(os.Getenv(failFirstEnv)); n > 0 && len(readStarts(path)) <= n {
			fmt.Fprintln(os.Stderr, "fixture: failing at start on purpose")
			return 1
		}
	}
	// hang ignores cancellation, but ends when warden closes stdin, so
	// that a stopped warden does not wait out mcp-go's shutdown timeouts.
	stdinClosed := make(chan struct{})
	in := &eofSignal{r: os.Stdin, eof: stdinClosed}
	if err := server.NewStdioServer(faultyServer(stdinClosed)).Listen(context.Background(), in, os.Stdout); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// eofSignal closes eof when its reader ends.
type eofSignal struct {
	r    io.Reader
	eof  chan struct{}
	once sync.Once
}

func (e *eofSignal) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil {
		e.once.Do(func() { close(e.eof) })
	}
	return n, err
}

// readStarts returns the start times the child recorded in path.
func readStarts(path string) []time.Time {
	b, _ := os.ReadFile(path)
	var out []time.Time
	for _, l := range strings.Fields(string(b)) {
		if ns, err := strconv.ParseInt(l, 10, 64); err == nil {
			out = append(out, time.Unix(0, ns))
		}
	}
	return out
}

// faultyServer is an upstream that misbehaves on demand: crash exits the
// process in the middle of a call, hang never answers (until release is
// closed, when the server is being stopped), huge answers more
// than warden accepts. It also lists tool definitions that break MCP
// servers which trust them.
func faultyServer(release <-chan struct{}) *server.MCPServer {
	s := server.NewMCPServer("faulty", "1.0.0",
		server.WithToolCapabilities(true),
		server.WithToolFilter(func(_ context.Context, ts []mcp.Tool) []mcp.Tool {
			return append(ts, invalidTools()...)
		}),
	)
	s.AddTool(mcp.NewTool("pid", mcp.WithDescription("The server's process id.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(strconv.Itoa(os.Getpid())), nil
		})
	s.AddTool(mcp.NewTool("echo", mcp.WithString("message", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(req.GetString("message", "")), nil
		})
	s.AddTool(mcp.NewTool("crash", mcp.WithDescription("Exits the server mid-call.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			os.Exit(3)
			return nil, nil
		})
	s.AddTool(mcp.NewTool("hang", mcp.WithDescription("Never answers, even when cancelled.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			<-release
			return mcp.NewToolResultText("released"), nil
		})
	s.AddTool(mcp.NewTool("huge", mcp.WithDescription("Answers more than tools.MaxResultBytes.")),
		func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			return mcp.NewToolResultText(strings.Repeat("x", tools.MaxResultBytes+1024)), nil
		})
	return s
}

// invalidToolNames are the names of invalidTools that have one.
var invalidToolNames = []string{"header_on_object", "header_not_a_token", "header_duplicate"}

// invalidTools are definitions an honest server cannot register (mcp-go's
// AddTool panics on them) but a hostile or buggy one can send: no name,
// and x-mcp-header annotations that mcp.ValidateParamHeaderAnnotations
// rejects.
func invalidTools() []mcp.Tool {
	raw := func(name, schema string) mcp.Tool {
		return mcp.Tool{Name: name, RawInputSchema: json.RawMessage(schema)}
	}
	return []mcp.Tool{
		raw("", `{"type":"object","properties":{}}`),
		raw("header_on_object", `{"type":"object","properties":{"o":{"type":"object","x-mcp-header":"X-Obj"}}}`),
		raw("header_not_a_token", `{"type":"object","properties":{"q":{"type":"string","x-mcp-header":"has space"}}}`),
		raw("header_duplicate", `{"type":"object","properties":{"a":{"type":"string","x-mcp-header":"X-Same"},"b":{"type":"string","x-mcp-header":"x-same"}}}`),
	}
}

// stdioFixture is a Spec that runs the faulty server as a stdio child.
func stdioFixture(t *testing.T, name string, env ...string) tools.Spec {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return tools.Spec{Name: name, Command: exe, Env: append([]string{fixtureEnv + "=stdio"}, env...)}
}

// waitFor is testkit.WaitFor, by the name this package's tests use.
func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	testkit.WaitFor(t, d, what, cond)
}
