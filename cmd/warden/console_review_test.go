package main

import (
	"context"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// flaggingWorkflow forwards reads outside notes/ but flags them.
const flaggingWorkflow = `agent: a
start: [read]
steps:
  - name: read
    tool: read_file
    guard: "args.path startsWith 'notes/'"
    on_violation: flag
    next: [read]
`

// TestConsoleReviewsAFlagAndSuspendsAnAgent: a flagged call appears live
// in the review queue; alice marks it reviewed with a note, recorded as
// hers; she suspends the agent with a reason (a new session is refused)
// and restores it (a new session works again).
func TestConsoleReviewsAFlagAndSuspendsAnAgent(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	at := serveConsoleWith(t, flaggingWorkflow)
	signIn(t, ctx, at.Admin, "/console/flags", consoleTokens["alice"], dir)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("no-flags"))); err != nil {
		t.Fatalf("flags page: %v", err)
	}
	c := dialAgent(t, at.MCP)
	read := func(c interface {
		CallTool(context.Context, mcp.CallToolRequest) (*mcp.CallToolResult, error)
	}, path string) error {
		req := mcp.CallToolRequest{}
		req.Params.Name = "read_file"
		req.Params.Arguments = map[string]any{"path": path}
		_, err := c.CallTool(context.Background(), req)
		return err
	}
	if err := read(c, "policies/refunds.md"); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("form.review"))); err != nil {
		t.Fatalf("the flag did not appear: %v", err)
	}
	screenshot(t, ctx, dir, "flags")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`form.review input[name="note"]`), "policy read, expected"),
		chromedp.Click(chromedp.CSS("form.review button")),
		chromedp.WaitVisible(chromedp.ID("no-flags")),
	); err != nil {
		t.Fatalf("review: %v", err)
	}
	var flags []store.Flag
	adminGet(t, at, "/v1/flags", &flags)
	if len(flags) != 1 || flags[0].State != store.FlagReviewed || flags[0].Reviewer != "alice" || flags[0].Note != "policy read, expected" {
		t.Fatalf("flags = %+v, want one reviewed by alice with her note", flags)
	}

	if err := chromedp.Do(ctx,
		chromedp.Navigate(at.Admin+"/console/agents"),
		chromedp.SendKeys(chromedp.CSS(`#agent-a input[name="reason"]`), "token leaked"),
		chromedp.Click(chromedp.CSS(`#agent-a form[action$="/suspend"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#agent-a form[action$="/restore"]`)),
	); err != nil {
		t.Fatalf("suspend: %v", err)
	}
	screenshot(t, ctx, dir, "agents-suspended")
	if _, err := dialAgentErr(at.MCP); err == nil {
		t.Fatal("a suspended agent opened a session")
	}
	var agents []supervisor.AgentStatus
	adminGet(t, at, "/v1/agents", &agents)
	if len(agents) != 1 || !agents[0].Suspended || agents[0].Reason != "token leaked" {
		t.Fatalf("agents = %+v, want a suspended for a leaked token", agents)
	}
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS(`#agent-a form[action$="/restore"] button`)),
		chromedp.WaitVisible(chromedp.CSS(`#agent-a form[action$="/suspend"]`)),
	); err != nil {
		t.Fatalf("restore: %v", err)
	}
	c2, err := dialAgentErr(at.MCP)
	if err != nil {
		t.Fatalf("the restored agent cannot open a session: %v", err)
	}
	defer c2.Close()
	if err := read(c2, "notes/C-1002.txt"); err != nil {
		t.Fatalf("the restored agent's call: %v", err)
	}
}
