package e2e

import (
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// TestToolListChangedReachesAgent: when an upstream adds a tool while an
// agent is connected, the agent is sent notifications/tools/list_changed,
// its next tools/list has the tool, and a call of it reaches the upstream.
func TestToolListChangedReachesAgent(t *testing.T) {
	up := newRefundUpstream(t, "desk")
	const token = "list-changed-token-0123456789"
	w := startWarden(t, []tools.Spec{{Name: "desk", URL: up.url}},
		[]supervisor.Agent{{Name: "lc", TokenSHA256: hashToken(token)}})
	c := connect(t, w.URL, token)
	notes := collectNotes(c)
	if names := toolNames(t, c, "lookup_desk"); slices.Contains(names, "issue_refund") {
		t.Fatalf("tools before the change = %v, want no issue_refund yet", names)
	}
	if n := notes.count(string(mcp.MethodNotificationToolsListChanged), func(map[string]any) bool { return true }); n != 0 {
		t.Fatalf("%d list_changed before the upstream changed its tools", n)
	}

	up.offerRefunds()
	waitFor(t, 10*time.Second, "notifications/tools/list_changed at the agent", func() bool {
		return notes.count(string(mcp.MethodNotificationToolsListChanged), func(map[string]any) bool { return true }) > 0
	})
	if names := sortedToolNames(t, c); !slices.Contains(names, "issue_refund") {
		t.Fatalf("tools after list_changed = %v, want issue_refund", names)
	}
	if res := callTool(t, c, "issue_refund", map[string]any{"order": "7"}); res.IsError || up.calls.Load() != 1 {
		t.Fatalf("issue_refund = %q (error %v), upstream called %d times", resultText(res), res.IsError, up.calls.Load())
	}
}
