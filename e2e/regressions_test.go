package e2e

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/tools"
)

// Regressions of faults found in warden (or in mcp-go as warden uses it).

// TestOneBadSchemaDoesNotHideTheOthers: one tool whose inputSchema is not
// an object used to make the whole tools/list of its upstream fail, so
// warden offered none of that upstream's tools.
func TestOneBadSchemaDoesNotHideTheOthers(t *testing.T) {
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

// TestFailedInitializeGivesNoSession: mcp-go mints an Mcp-Session-Id even
// for an initialize that fails; warden must not accept it afterwards.
func TestFailedInitializeGivesNoSession(t *testing.T) {
	w := demoWarden(t)
	r := postRaw(t, w.URL, `{"jsonrpc":"2.0","id":1,"method":"initialize","params":"x"}`, "")
	if r.sessionID == "" {
		return // nothing minted: nothing to misuse
	}
	l := postRaw(t, w.URL, `{"jsonrpc":"2.0","id":2,"method":"tools/list"}`, r.sessionID)
	if l.status != 404 {
		t.Fatalf("the id of a failed initialize (%s) was accepted: tools/list answered %d %.120s", r.sessionID, l.status, l.body)
	}
}
