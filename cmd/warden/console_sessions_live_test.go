package main

import (
	"testing"

	"github.com/chromedp/chromedp"
)

// TestConsoleSessionListIsLive: a session that starts or ends while the
// sessions page is open appears, and then shows as ended, without a
// reload: the supervisor tells watchers of both (server-sent events).
func TestConsoleSessionListIsLive(t *testing.T) {
	ctx := browser(t)
	dir := shots(t)
	at := serveConsole(t)
	signIn(t, ctx, at.Admin, "/console/", consoleTokens["alice"], dir)
	c := dialAgent(t, at.MCP)
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#sessions tr.state-active"))); err != nil {
		screenshot(t, ctx, dir, "sessions-no-new")
		t.Fatalf("the new session did not appear: %v", err)
	}
	screenshot(t, ctx, dir, "sessions-live")
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS("#sessions tr.state-ended"))); err != nil {
		screenshot(t, ctx, dir, "sessions-not-ended")
		t.Fatalf("the ended session was not shown ended: %v", err)
	}
}
