package main

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/mark3labs/mcp-go/mcp"
)

// pointAt is the centre of the approve button of the held call with
// this id, as the page is now.
const pointAt = `(id) => { const b = document.querySelector("#approval-" + CSS.escape(id) + " button.approve").getBoundingClientRect();
  return [b.left + b.width / 2, b.top + b.height / 2]; }`

// TestConsoleAttackHeldCallsStayUnderThePointer: the approver's pointer
// is on the approve button of held call A when the agent has another
// call held (B), and then A leaves the list (here denied through the
// API; an agent can also withdraw it). Neither change may move another
// call's button under the pointer: the click would approve what the
// approver did not read.
func TestConsoleAttackHeldCallsStayUnderThePointer(t *testing.T) {
	at, ctx, dir := watchApprovals(t, "alice")
	agent := dialAgent(t, at.MCP)
	// held waits for n held calls on the page and returns their ids.
	held := func(n int) []string {
		t.Helper()
		if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(fmt.Sprintf("#pending section.held:nth-of-type(%d)", n)))); err != nil {
			t.Fatalf("%d held calls did not appear: %v", n, err)
		}
		ids, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`[...document.querySelectorAll("#pending section.held")].map(s => s.id.slice("approval-".length))`))
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	// whoIsAt answers which held call's section is at the point.
	whoIsAt := func(pt []float64) string {
		t.Helper()
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(
			`(() => { const e = document.elementFromPoint(%f, %f); const s = e && e.closest("section.held"); return s ? s.id : ""; })()`, pt[0], pt[1])))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	where := func(id string) []float64 {
		t.Helper()
		pt, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(`+pointAt+`)("`+id+`")`))
		if err != nil {
			t.Fatal(err)
		}
		return pt
	}

	doneA := heldRead(agent, "notes/A.txt")
	a := held(1)[0]
	onA := where(a)

	doneB := heldRead(agent, "notes/B.txt")
	var b string
	for _, id := range held(2) {
		if id != a {
			b = id
		}
	}
	if got := whoIsAt(onA); got != "approval-"+a {
		screenshot(t, ctx, dir, "reflow-added")
		t.Fatalf("after B was held, the pointer on A's approve button is over %q", got)
	}
	onB := where(b)

	decideByAPI(t, at, a, "deny")
	if err := chromedp.Do(ctx, chromedp.WaitNotPresent(chromedp.CSS("#approval-"+a+" form"))); err != nil {
		t.Fatalf("A did not leave the list: %v", err)
	}
	if got := whoIsAt(onB); got != "approval-"+b {
		screenshot(t, ctx, dir, "reflow-removed")
		t.Fatalf("after A left, the pointer on B's approve button is over %q", got)
	}
	decideByAPI(t, at, b, "deny")
	for _, done := range []<-chan *mcp.CallToolResult{doneA, doneB} {
		if res := <-done; !res.IsError {
			t.Fatalf("a denied call returned %+v", res)
		}
	}
}

// decideByAPI decides an approval with the shared admin token.
func decideByAPI(t *testing.T, at endpoints, id, decision string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, at.Admin+"/v1/approvals/"+id+"/decision", strings.NewReader(`{"decision":"`+decision+`","by":"test"}`))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer admin-secret-token")
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("decide %s: %s", id, res.Status)
	}
}
