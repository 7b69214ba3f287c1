package e2e

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/tools"
)

// Reproductions of faults found in warden (or in mcp-go as warden uses
// it) that are reported rather than fixed here. They fail today; they run
// only with WARDEN_E2E_KNOWN_ISSUES=1 so that the suite stays green.
func knownIssue(t *testing.T) {
	t.Helper()
	if os.Getenv("WARDEN_E2E_KNOWN_ISSUES") == "" {
		t.Skip("known issue; set WARDEN_E2E_KNOWN_ISSUES=1 to reproduce")
	}
}

// TestKnownIssueOneBadSchemaHidesAllTools: one tool whose inputSchema is
// not an object makes mcp-go's ListTools fail as a whole
// (tools/upstream.go refresh), so warden offers none of that upstream's
// tools while reporting it connected.
func TestKnownIssueOneBadSchemaHidesAllTools(t *testing.T) {
	knownIssue(t)
	s := server.NewMCPServer("x", "1", server.WithToolCapabilities(true),
		server.WithToolFilter(func(_ context.Context, ts []mcp.Tool) []mcp.Tool {
			return append(ts, mcp.Tool{Name: "number_schema", RawInputSchema: json.RawMessage(`42`)})
		}))
	s.AddTool(mcp.NewTool("good"), func(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		return mcp.NewToolResultText("good"), nil
	})
	w := startWarden(t, []tools.Spec{{Name: "x", URL: serveUpstream(t, s)}}, faultAgents)
	c := connect(t, w.URL, faultToken)
	if res, err := tryCall(c, "good", nil); err != nil || res.IsError {
		t.Fatalf("the valid tool is gone because another one is malformed: %v %+v (status %+v)", err, res, w.Hub.Status())
	}
}

// TestKnownIssueFailedInitializeMintsSessionID: an initialize that fails
// still gets an Mcp-Session-Id, and that id is accepted for tools/list for
// a minute (supervisor/sessions.go Validate accepts issued ids).
func TestKnownIssueFailedInitializeMintsSessionID(t *testing.T) {
	knownIssue(t)
	w := demoWarden(t)
	r := postRaw(t, w.URL, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":"x"}`, "")
	if r.sessionID != "" {
		l := postRaw(t, w.URL, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, r.sessionID)
		t.Fatalf("a failed initialize was given session %s; tools/list on it: %d %.120s", r.sessionID, l.status, l.body)
	}
}
