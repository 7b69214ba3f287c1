package tools_test

import (
	"slices"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/tools"
)

// TestAgentSessionSeesItsAgentsView has the upstream add a tool on an
// agent's upstream session (per_agent), then another session of the same
// agent join that upstream session: the tool is offered to it there, so
// its view has it from its first request on.
func TestAgentSessionSeesItsAgentsView(t *testing.T) {
	up := newCounter(t)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, Sharing: tools.PerAgent})
	first, second := tools.Session{ID: "a1", Agent: "a"}, tools.Session{ID: "a2", Agent: "a"}
	addSecret(t, hub, first)
	increment(t, hub, second)
	if _, ok := hub.CatalogFor("a2").Tool("secret"); !ok {
		t.Fatal("a session that joined its agent's upstream session does not see the tool that upstream session offers")
	}
}

// TestClosedUpstreamSessionLeavesView has the upstream add a tool on an
// agent session's upstream session, which then closes idle: the session's
// next upstream session does not offer the tool, so its view must not
// either.
func TestClosedUpstreamSessionLeavesView(t *testing.T) {
	up := newCounter(t)
	hub, ev := startHub(t, tools.Spec{Name: "up", URL: up.url, IdleTimeout: 200 * time.Millisecond})
	who := tools.Session{ID: "s1", Agent: "a"}
	addSecret(t, hub, who)
	testkit.WaitFor(t, 5*time.Second, "the idle upstream session to close", func() bool { return slices.Contains(ev.of("s1"), "closed") })
	if _, ok := hub.CatalogFor("s1").Tool("secret"); ok {
		t.Fatal("the view still has a tool that only a closed upstream session offered")
	}
}

// addSecret has the counter add the tool "secret" on who's upstream
// session, and waits until who's view has it.
func addSecret(t *testing.T, hub *tools.Hub, who tools.Session) {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = "add_tool"
	if _, _, err := hub.CallTool(t.Context(), who, req); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, who.ID+"'s view to have the tool", func() bool {
		_, ok := hub.CatalogFor(who.ID).Tool("secret")
		return ok
	})
}
