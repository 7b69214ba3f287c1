package e2e

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

const (
	lcToken     = "list-changed-token-0123456789"
	narrowToken = "list-changed-narrow-0123456789"
	lookupToken = "list-changed-lookup-0123456789"
)

// lookupOnly lets its agent look orders up and nothing else.
const lookupOnly = `
agent: lookup
on_violation: deny
start: [lookup]
anytime: [lookup]
steps:
  - name: lookup
    tool: lookup_desk
    next: ["*"]
`

// TestToolListChangedReachesAgent: when an upstream adds a tool while
// agents are connected, an agent is sent notifications/tools/list_changed,
// its next tools/list has the tool, and a call of it reaches the upstream;
// the new tool is still subject to each agent's grants and policy: an
// agent granted only lookup_* neither lists nor calls it, and one whose
// workflow allows only lookups is refused it, without the upstream seeing
// either.
func TestToolListChangedReachesAgent(t *testing.T) {
	up := newRefundUpstream(t, "desk")
	wf, err := workflows.Parse("lookup.yaml", []byte(lookupOnly))
	if err != nil {
		t.Fatal(err)
	}
	w := startWarden(t, []tools.Spec{{Name: "desk", URL: up.url}}, []supervisor.Agent{
		{Name: "lc", TokenSHA256: hashToken(lcToken)},
		{Name: "narrow", TokenSHA256: hashToken(narrowToken), Tools: []string{"lookup_*"}},
		{Name: "lookup", TokenSHA256: hashToken(lookupToken)},
	}, func(o *supervisor.Options) {
		o.Policies = map[string]*supervisor.Policy{"lookup": {Workflow: wf}}
	})
	c := connect(t, w.URL, lcToken)
	narrow := connect(t, w.URL, narrowToken)
	lookup := connect(t, w.URL, lookupToken)
	notes := collectNotes(c)
	everyNote := func(map[string]any) bool { return true }
	if names := toolNames(t, c, "lookup_desk"); slices.Contains(names, "issue_refund") {
		t.Fatalf("tools before the change = %v, want no issue_refund yet", names)
	}
	if n := notes.count(string(mcp.MethodNotificationToolsListChanged), everyNote); n != 0 {
		t.Fatalf("%d list_changed before the upstream changed its tools", n)
	}

	up.offerRefunds()
	waitFor(t, 10*time.Second, "notifications/tools/list_changed at the agent", func() bool {
		return notes.count(string(mcp.MethodNotificationToolsListChanged), everyNote) > 0
	})
	if names := sortedToolNames(t, c); !slices.Contains(names, "issue_refund") {
		t.Fatalf("tools after list_changed = %v, want issue_refund", names)
	}
	if res := callTool(t, c, "issue_refund", map[string]any{"order": "7"}); res.IsError || up.calls.Load() != 1 {
		t.Fatalf("issue_refund = %q (error %v), upstream called %d times", resultText(res), res.IsError, up.calls.Load())
	}

	if names := sortedToolNames(t, narrow); !slices.Equal(names, []string{"lookup_desk"}) {
		t.Fatalf("tools of the agent granted lookup_* = %v, want lookup_desk only", names)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.CallToolRequest{}
	req.Params.Name = "issue_refund"
	req.Params.Arguments = map[string]any{"order": "8"}
	if res, err := narrow.CallTool(ctx, req); err == nil && !res.IsError {
		t.Fatalf("the agent granted lookup_* called issue_refund: %q", resultText(res))
	}
	if res := callTool(t, lookup, "issue_refund", map[string]any{"order": "9"}); !res.IsError || !strings.Contains(resultText(res), "deny") {
		t.Fatalf("issue_refund for the lookup-only workflow = %q (error %v), want it denied", resultText(res), res.IsError)
	}
	if n := up.calls.Load(); n != 1 {
		t.Fatalf("the upstream refunded %d times, want only the unrestricted agent's refund", n)
	}
}
