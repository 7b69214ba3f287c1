package tools_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/testkit"
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

// TestSetLevelWhileOpening sets an agent session's logging level, again
// and again, while its first request opens its upstream session: what
// the opening learns of the upstream (its client, whether it logs) is
// not there to read until it is done. Run with -race.
func TestSetLevelWhileOpening(t *testing.T) {
	up := server.NewMCPServer("logs", "1", server.WithToolCapabilities(true), server.WithLogging())
	up.AddTool(mcp.NewTool("increment"), echo)
	srv := httptest.NewServer(server.NewStreamableHTTPServer(up,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	t.Cleanup(srv.Close)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: srv.URL, Spare: -1})
	for i := range 8 { // each opening is one more chance to overlap
		who := tools.Session{ID: fmt.Sprint("s", i), Agent: "a"}
		done := make(chan error, 1)
		go func() {
			req := mcp.CallToolRequest{}
			req.Params.Name = "increment"
			_, _, err := hub.CallTool(t.Context(), who, req)
			done <- err
		}()
	set:
		for {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				break set
			default:
				hub.SetLevel(t.Context(), who, mcp.LoggingLevelDebug)
			}
		}
	}
}

// TestEndWhileOpening ends an agent session while its first request is
// opening its upstream session (the upstream holds the initialize). Its
// record must not say that an upstream session opened after saying it
// closed, and the upstream session must end upstream.
func TestEndWhileOpening(t *testing.T) {
	var inits atomic.Int32
	entered, gate := make(chan struct{}), make(chan struct{})
	hooks := &server.Hooks{}
	hooks.AddBeforeInitialize(func(context.Context, any, *mcp.InitializeRequest) {
		if inits.Add(1) == 2 { // warden's own session is the first
			close(entered)
			<-gate
		}
	})
	live := &counter{live: map[string]bool{}}
	hooks.AddOnRegisterSession(func(_ context.Context, s server.ClientSession) {
		live.mu.Lock()
		live.live[s.SessionID()] = true
		live.mu.Unlock()
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		live.mu.Lock()
		delete(live.live, s.SessionID())
		live.mu.Unlock()
	})
	up := server.NewMCPServer("held", "1", server.WithToolCapabilities(true), server.WithHooks(hooks))
	up.AddTool(mcp.NewTool("increment"), echo)
	srv := httptest.NewServer(server.NewStreamableHTTPServer(up,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	t.Cleanup(srv.Close)
	t.Cleanup(func() {
		select {
		case <-gate:
		default:
			close(gate)
		}
	})
	hub, ev := startHub(t, tools.Spec{Name: "up", URL: srv.URL, Spare: -1})

	who := tools.Session{ID: "s1", Agent: "a"}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := mcp.CallToolRequest{}
		req.Params.Name = "increment"
		_, _, _ = hub.CallTool(ctx, who, req)
	}()
	<-entered
	cancel() // as the supervisor does before Release
	hub.Release(who, "ended")
	close(gate)
	<-done
	got := ev.of("s1")
	if len(got) > 0 && !slices.Equal(got, []string{"opened", "closed"}) {
		t.Fatalf("events of a session that ended while its upstream session opened: %v, want none or opened, closed", got)
	}
	testkit.WaitFor(t, 5*time.Second, "the upstream session to end upstream", func() bool { return live.liveCount() == 1 })
}
