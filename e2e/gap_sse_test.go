package e2e

import (
	"context"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

const sseToken = "sse-token-0123456789abcdef"

// TestSSEUpstream: an upstream that speaks only the legacy SSE transport
// (mcp-go's SSE server: a GET stream at /sse, posts to /message) serves an
// agent through warden: its tools are listed, a call reaches it and its
// answer comes back, and both the call and its result are on the session's
// chain under the upstream's name.
func TestSSEUpstream(t *testing.T) {
	var calls atomic.Int64
	s := server.NewMCPServer("legacy", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("shout", mcp.WithString("text", mcp.Required())),
		func(_ context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			calls.Add(1)
			return mcp.NewToolResultText(strings.ToUpper(req.GetString("text", ""))), nil
		})
	url := serveHTTP(t, server.NewSSEServer(s)) + "/sse"

	w := startWarden(t, []tools.Spec{{Name: "legacy", URL: url, SSE: true}},
		[]supervisor.Agent{{Name: "sse-agent", TokenSHA256: hashToken(sseToken)}})
	c := connect(t, w.URL, sseToken)
	if names := toolNames(t, c, "shout"); !slices.Contains(names, "shout") {
		t.Fatalf("tools/list through warden = %v, want the SSE upstream's shout", names)
	}
	res := callTool(t, c, "shout", map[string]any{"text": "over sse"})
	if res.IsError || resultText(res) != "OVER SSE" || calls.Load() != 1 {
		t.Fatalf("shout = %q (error %v), upstream called %d times; want OVER SSE from one call", resultText(res), res.IsError, calls.Load())
	}

	evs, err := w.Store.Events(context.Background(), c.GetSessionId())
	if err != nil {
		t.Fatal(err)
	}
	call, result := callOf(evs, "shout")
	if call == nil || call.Upstream != "legacy" || call.Verdict != "allow" || !strings.Contains(string(call.Args), "over sse") {
		t.Fatalf("call event = %+v, want shout to legacy allowed with its arguments", call)
	}
	if result == nil || !result.OK || result.Size == 0 {
		t.Fatalf("result event = %+v, want an ok result with its size", result)
	}
	verifyChains(t, w)
}
