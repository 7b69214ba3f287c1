package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mark3labs/mcp-go/client/transport"

	"github.com/warden-dev/warden/internal/testkit"
)

// xssPayload would change the page's title, or add a script, an image or
// a javascript: link, if any page let it out of its text.
const xssPayload = `"><script>document.title='pwned'</script><img src=x onerror="document.title='pwned'"><a href="javascript:document.title='pwned'">x</a>`

// injected counts in the open page what xssPayload would have added.
const injected = `JSON.stringify({title: document.title,
  inline: document.querySelectorAll("script:not([src])").length,
  images: document.images.length,
  js: [...document.querySelectorAll("[href],[action],[src]")].filter(e =>
    /^\s*javascript:/i.test(e.getAttribute("href") || e.getAttribute("action") || e.getAttribute("src"))).length})`

// watchApprovals serves warden and has operator, signed in on the
// session list, wait on the empty approvals page with the live stream
// connected.
func watchApprovals(t *testing.T, operator string) (endpoints, context.Context, string) {
	t.Helper()
	at, ctx, dir := serveConsole(t), browser(t), shots(t)
	signIn(t, ctx, at.Admin, "/console/", consoleTokens[operator], dir)
	if err := chromedp.Do(ctx,
		chromedp.Navigate(at.Admin+"/console/approvals"),
		chromedp.WaitVisible(chromedp.ID("none-pending")),
		chromedp.WaitReady(chromedp.CSS(`body[data-connected="1"]`)),
	); err != nil {
		t.Fatalf("approvals page: %v", err)
	}
	return at, ctx, dir
}

// TestConsoleAttackStoredXSS: an agent puts markup in everything it
// controls — its client name, its User-Agent, a held call's arguments —
// and an operator has the approvals page open (where the call arrives by
// the live refresh, which parses fetched HTML in the page's script), the
// session list and the session's timeline in chromium: no script runs,
// nothing is added to the page, and the payload is shown as text.
func TestConsoleAttackStoredXSS(t *testing.T) {
	at, ctx, dir := watchApprovals(t, "bob")
	agent, err := testkit.Dial(at.MCP, testToken, "client"+xssPayload,
		[]transport.StreamableHTTPCOption{transport.WithHTTPHeaders(map[string]string{"User-Agent": "ua" + xssPayload, "Authorization": "Bearer " + testToken})})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = agent.Close() })
	resc := heldRead(agent, "notes/"+xssPayload)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("section.held"))); err != nil {
		t.Fatalf("the held call did not appear: %v", err)
	}
	session, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("section.held a")))
	if err != nil {
		t.Fatal(err)
	}
	check := func(page, wantText string) {
		t.Helper()
		raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](injected))
		if err != nil {
			t.Fatalf("%s: %v", page, err)
		}
		var got struct {
			Title              string
			Inline, Images, JS int
		}
		if err := json.Unmarshal([]byte(raw), &got); err != nil {
			t.Fatal(err)
		}
		if got.Title != "warden console" || got.Inline != 0 || got.Images != 0 || got.JS != 0 {
			screenshot(t, ctx, dir, "xss-"+page)
			t.Errorf("%s: the payload got out: %+v", page, got)
		}
		text, err := chromedp.Run(ctx, chromedp.Text(chromedp.ID("main")))
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(text, wantText) {
			t.Errorf("%s does not show %q as text:\n%s", page, wantText, text)
		}
	}
	check("approvals", "client"+xssPayload)
	// The arguments read as the agent wrote them, not as \u003cscript.
	check("approvals", `{"path":"notes/`+strings.ReplaceAll(xssPayload, `"`, `\"`)+`"}`)
	for _, p := range []struct{ name, path, want string }{
		{"sessions", "/console/", "client" + xssPayload},
		{"timeline", "/console/sessions/" + session, "ua" + xssPayload},
	} {
		if err := chromedp.Do(ctx, chromedp.Navigate(at.Admin+p.path), chromedp.WaitVisible(chromedp.ID("main"))); err != nil {
			t.Fatalf("%s: %v", p.path, err)
		}
		check(p.name, p.want)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(at.Admin+"/console/approvals"),
		chromedp.Click(chromedp.CSS(`section.held button[value="deny"]`)),
		chromedp.WaitVisible(chromedp.ID("none-pending")),
	); err != nil {
		t.Fatalf("deny: %v", err)
	}
	select {
	case res := <-resc:
		if !res.IsError {
			t.Fatalf("the denied call returned %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the denied call did not return")
	}
}
