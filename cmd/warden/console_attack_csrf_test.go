package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/supervisor"
)

// autoPost is a page that posts a form to action as soon as it loads.
func autoPost(action string, fields map[string]string) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<!doctype html><form method="post" action="%s">`, html.EscapeString(action))
	for k, v := range fields {
		fmt.Fprintf(&b, `<input type="hidden" name="%s" value="%s">`, html.EscapeString(k), html.EscapeString(v))
	}
	b.WriteString(`</form><script>document.forms[0].submit()</script>`)
	return b.String()
}

// TestConsoleAttackCrossPortForms: bob is signed in when his chromium
// opens a page served from another port of the same loopback host (same
// site, so his SameSite=Strict cookie is sent) that posts the console's
// kill form, one that signs him out, and another that signs him in as
// alice (login CSRF). All are refused as cross-origin: the session lives
// and bob is still bob.
func TestConsoleAttackCrossPortForms(t *testing.T) {
	at, ctx, dir := serveConsole(t), browser(t), shots(t)
	agent := dialAgent(t, at.MCP)
	read := mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "read_file", Arguments: map[string]any{"path": "policies/refunds.md"}}}
	call := func() error {
		_, err := agent.CallTool(context.Background(), read)
		return err
	}
	if err := call(); err != nil {
		t.Fatal(err)
	}
	var rows []supervisor.SessionRow
	adminGet(t, at, "/v1/sessions", &rows)
	signIn(t, ctx, at.Admin, "/console/", consoleTokens["bob"], dir)

	pages := map[string]string{
		"/kill":   autoPost(at.Admin+"/console/sessions/"+rows[0].ID+"/kill", map[string]string{"reason": "csrf"}),
		"/logout": autoPost(at.Admin+"/console/logout", nil),
		"/login":  autoPost(at.Admin+"/console/login", map[string]string{"token": consoleTokens["alice"], "next": "/console/"}),
	}
	evil := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, pages[r.URL.Path])
	}))
	t.Cleanup(evil.Close)

	for _, path := range []string{"/kill", "/logout", "/login"} {
		if err := chromedp.Do(ctx, chromedp.Navigate(evil.URL+path)); err != nil {
			t.Fatalf("open the attacker's %s: %v", path, err)
		}
		var body string
		testkit.WaitFor(t, 30*time.Second, "the attacker's form to reach the console", func() bool {
			loc, err := chromedp.Run(ctx, chromedp.Location())
			if err != nil || !strings.HasPrefix(loc, at.Admin) {
				return false
			}
			body, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS("body")))
			return err == nil && body != ""
		})
		// "cross-origin", not "unauthorized": the cookie went along, and
		// the origin check is what stopped the post.
		if !strings.Contains(body, "forbidden: cross-origin request") {
			screenshot(t, ctx, dir, "csrf"+strings.TrimPrefix(path, "/"))
			t.Errorf("the attacker's %s post got %q, want forbidden: cross-origin request", path, body)
		}
	}
	if err := call(); err != nil {
		t.Fatalf("the cross-port kill killed the session: %v", err)
	}
	if err := chromedp.Do(ctx, chromedp.Navigate(at.Admin+"/console/"), chromedp.WaitVisible(chromedp.ID("operator"))); err != nil {
		t.Fatal(err)
	}
	if who, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("operator"))); err != nil || who != "bob" {
		t.Fatalf("after the login CSRF the console is signed in as %q (%v), want bob", who, err)
	}
}
