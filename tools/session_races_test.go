package tools_test

import (
	"context"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/tools"
)

// TestEndedSessionOpensNothing makes a request for an agent session that
// has ended, as one in flight when the session ends is: the supervisor
// cancels it, then releases the session. The request must open no
// upstream session, nor join its agent's, or that upstream session would
// stay open (and hold a place under the cap) with nobody to close it.
func TestEndedSessionOpensNothing(t *testing.T) {
	cases := []struct {
		sharing tools.Sharing
		before  []tools.Session // sessions that made a request, the ended one last
	}{
		{tools.PerSession, []tools.Session{{ID: "s1", Agent: "a"}}},
		{tools.PerAgent, []tools.Session{{ID: "a1", Agent: "a"}, {ID: "a2", Agent: "a"}}},
	}
	for _, tc := range cases {
		t.Run(string(tc.sharing), func(t *testing.T) {
			up := newCounter(t)
			hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, Sharing: tc.sharing, Spare: -1})
			for _, who := range tc.before {
				increment(t, hub, who)
			}
			ended := tc.before[len(tc.before)-1]
			cancelled, cancel := context.WithCancel(t.Context())
			cancel()
			hub.Release(ended, "ended")
			req := mcp.CallToolRequest{}
			req.Params.Name = "increment"
			if _, _, err := hub.CallTool(cancelled, ended, req); err == nil {
				t.Fatal("a cancelled request of an ended session was forwarded")
			}
			for _, who := range tc.before[:len(tc.before)-1] {
				hub.Release(who, "ended")
			}
			if n := hub.Status()[0].Sessions; n != 0 {
				t.Fatalf("%d upstream sessions open once every agent session ended, want 0", n)
			}
		})
	}
}
