package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/demo"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// TestSessionResumesAfterRestart: warden restarts on the same history; an
// agent that carries on with its session id continues the same session
// (same chain), while another agent cannot take that id over.
func TestSessionResumesAfterRestart(t *testing.T) {
	up := serveUpstream(t, demo.NewUpstream().Server())
	specs := []tools.Spec{{Name: "desk", URL: up}}
	agents := []supervisor.Agent{
		{Name: "support", TokenSHA256: hashToken(supportToken)},
		{Name: "other", TokenSHA256: hashToken("other-token-0123456789")},
	}
	w := startWarden(t, specs, agents)
	c := connect(t, w.URL, supportToken)
	callTool(t, c, "echo", map[string]any{"message": "before"})
	id := c.GetSessionId()
	w.Stop()

	w2 := startWardenOn(t, w.DBPath, specs, agents)
	resumeClient := func(token string) *client.Client { return rejoin(t, w2.URL, token, id) }
	req := mcp.CallToolRequest{}
	req.Params.Name = "echo"
	req.Params.Arguments = map[string]any{"message": "hijack"}
	if _, err := resumeClient("other-token-0123456789").CallTool(context.Background(), req); err == nil {
		t.Fatal("another agent took over the session after the restart")
	}
	if got := resultText(callTool(t, resumeClient(supportToken), "echo", map[string]any{"message": "after"})); got != "after" {
		t.Fatalf("echo after the restart = %q", got)
	}
	evs, err := w2.Store.Events(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	var timeline []string
	for _, e := range evs {
		entry := e.Kind
		if e.Kind == store.KindCall {
			entry += ":" + strings.Trim(string(e.Args), "{}")
		}
		if e.Kind == store.KindUpstreamSession {
			// The upstream session opened after the restart replaces the
			// one before it, whose state is gone.
			var d struct{ Action string }
			_ = json.Unmarshal(e.Data, &d)
			entry += ":" + d.Action
		}
		timeline = append(timeline, entry)
	}
	want := `session_start call:"message":"before" upstream_session:opened result signal signal call:"message":"after" upstream_session:reopened result`
	if got := strings.Join(timeline, " "); got != want {
		t.Fatalf("timeline across the restart:\n got %s\nwant %s", got, want)
	}
	if rep, err := w2.Store.Verify(context.Background()); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}
