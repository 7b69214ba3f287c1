package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// serveConsole serves warden with the held workflow, the shared admin
// token and alice's and bob's named ones.
func serveConsole(t *testing.T) endpoints {
	t.Helper()
	return serveConsoleWith(t, heldWorkflow)
}

// serveConsoleWith serves warden with this workflow for agent a, the
// shared admin token and alice's and bob's named ones.
func serveConsoleWith(t *testing.T, workflow string) endpoints {
	t.Helper()
	upURL, stopUp, err := serveDemoUpstream()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stopUp)
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.yaml"), workflow)
	at, _ := serveWithAdmin(t, dir, configText(upURL, dir, "wf.yaml")+"approvals: {timeout: 60s}\n", namedAdminTokens())
	return at
}

// heldRead calls read_file on path in the background (the held workflow
// holds it for an approver) and delivers its result, a transport error as
// an error result.
func heldRead(c *client.Client, path string) <-chan *mcp.CallToolResult {
	ch := make(chan *mcp.CallToolResult, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "read_file"
		req.Params.Arguments = map[string]any{"path": path}
		res, err := c.CallTool(context.Background(), req)
		if err != nil {
			res = mcp.NewToolResultError("transport: " + err.Error())
		}
		ch <- res
	}()
	return ch
}

// adminGet reads the admin API with the shared token into v.
func adminGet(t *testing.T, at endpoints, path string, v any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, at.Admin+path, nil)
	req.Header.Set("Authorization", "Bearer admin-secret-token")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", path, res.Status)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatal(err)
	}
}

// TestConsoleApprovesAHeldCallLive: alice signs in with her own token,
// the agent's call is held and appears on the open approvals page without
// a reload (server-sent events), she approves it, the agent's call
// completes with the upstream's result, and the decision is recorded as
// hers.
func TestConsoleApprovesAHeldCallLive(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	at := serveConsole(t)
	signIn(t, ctx, at.Admin, "/console/approvals", consoleTokens["alice"], dir)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.ID("none-pending"))); err != nil {
		t.Fatalf("approvals page: %v", err)
	}

	resc := heldRead(dialAgent(t, at.MCP), "notes/C-1002.txt")

	// The page was loaded before the call was held: it appears live.
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("section.held"))); err != nil {
		t.Fatalf("the held call did not appear: %v", err)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.held")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "read_file") || !strings.Contains(text, "notes/C-1002.txt") || !strings.Contains(text, "Risk") {
		t.Fatalf("the held call shows %q, want the tool, its arguments and the webhook's facts", text)
	}
	screenshot(t, ctx, dir, "approvals")
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("section.held button.approve")),
		chromedp.WaitVisible(chromedp.ID("none-pending")),
	); err != nil {
		t.Fatalf("approve: %v", err)
	}
	select {
	case res := <-resc:
		if res.IsError || !strings.Contains(resultTextOf(res), "double charge") {
			t.Fatalf("approved call = %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the approved call did not return")
	}
	var list []store.Approval
	adminGet(t, at, "/v1/approvals", &list)
	if len(list) != 1 || list[0].Decision != store.DecisionOnce || list[0].DecidedBy != "alice" {
		t.Fatalf("approvals = %+v, want one approved once by alice", list)
	}

	// The session's timeline lists its approval, decided by alice.
	if err := chromedp.Do(ctx,
		chromedp.Navigate(at.Admin+"/console/sessions/"+list[0].Session),
		chromedp.WaitVisible(chromedp.ID("session-approvals")),
	); err != nil {
		t.Fatalf("timeline: %v", err)
	}
	row, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#session-approvals tbody tr")))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(row, list[0].ID) || !strings.Contains(row, "alice") {
		t.Fatalf("the timeline's approval row is %q, want %s decided by alice", row, list[0].ID)
	}
	screenshot(t, ctx, dir, "timeline-approved")

	// The other pages, for people to look at.
	for _, p := range []struct{ path, sel, name string }{
		{"/console/", "sessions", "sessions"},
		{"/console/agents", "agents", "agents"},
		{"/console/tools", "tools", "tools"},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(at.Admin+p.path), chromedp.WaitVisible(chromedp.ID(p.sel))); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		screenshot(t, ctx, dir, p.name)
	}
}

// TestConsoleKillsFromTheTimeline: bob opens a session's timeline from the
// session list and kills it; the agent's next request is refused and the
// chain records the kill by bob.
func TestConsoleKillsFromTheTimeline(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	at := serveConsole(t)
	c := dialAgent(t, at.MCP)
	req := mcp.CallToolRequest{}
	req.Params.Name = "read_file"
	req.Params.Arguments = map[string]any{"path": "policies/refunds.md"}
	if res, err := c.CallTool(context.Background(), req); err != nil || res.IsError {
		t.Fatalf("first call: %v %+v", err, res)
	}
	signIn(t, ctx, at.Admin, "/console/", consoleTokens["bob"], dir)
	if err := chromedp.Do(ctx,
		chromedp.Click(chromedp.CSS("#sessions a")),
		chromedp.WaitVisible(chromedp.ID("kill-session")),
	); err != nil {
		t.Fatalf("open the timeline: %v", err)
	}
	if chain, err := waitText(ctx, "chain", "verified"); err != nil {
		t.Fatalf("chain status = %q, want verified: %v", chain, err)
	}
	screenshot(t, ctx, dir, "timeline")
	if err := chromedp.Do(ctx,
		chromedp.SendKeys(chromedp.CSS(`input[name="reason"]`), "looks compromised"),
		chromedp.Click(chromedp.ID("kill-session")),
		chromedp.WaitNotPresent(chromedp.ID("kill-session")),
	); err != nil {
		t.Fatalf("kill: %v", err)
	}
	if state, err := waitText(ctx, "session-state", "killed"); err != nil {
		t.Fatalf("session state = %q, want killed: %v", state, err)
	}
	screenshot(t, ctx, dir, "timeline-killed")
	if _, err := c.CallTool(context.Background(), req); err == nil {
		t.Fatal("the agent's next request went through after the kill")
	}
	var rows []supervisor.SessionRow
	adminGet(t, at, "/v1/sessions", &rows)
	if len(rows) != 1 {
		t.Fatalf("sessions = %+v", rows)
	}
	var view supervisor.SessionView
	adminGet(t, at, "/v1/sessions/"+rows[0].ID, &view)
	found := false
	for _, ev := range view.Events {
		if ev.Kind == store.KindKill {
			found = strings.Contains(string(ev.Data), `"bob"`) && strings.Join(ev.Reasons, "") == "looks compromised"
		}
	}
	if !found {
		t.Fatalf("no kill by bob on the chain: %+v", view.Events)
	}
}

// waitText waits until the element with id shows text starting with
// prefix, and returns its text (the last seen, when it never does). It
// reads the text in one script rather than by a node found first: the
// console swaps its main part in when a live change arrives, and a node
// found before the swap is gone by the time its text is asked for.
func waitText(ctx context.Context, id, prefix string) (string, error) {
	read := fmt.Sprintf(`(() => { const e = document.getElementById(%q); return e ? e.textContent : ""; })()`, id)
	got, err := chromedp.Run(ctx, chromedp.Poll[string](
		fmt.Sprintf(`(() => { const s = %s; return s.startsWith(%q) ? s : null; })()`, read, prefix),
		chromedp.WithPollingTimeout(10*time.Second)))
	if err != nil {
		got, _ = chromedp.Run(ctx, chromedp.Evaluate[string](read))
	}
	return got, err
}
