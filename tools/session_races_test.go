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

// heldOpening is an upstream that holds one initialize (the nth) until
// let is closed, and knows which of its sessions are live.
type heldOpening struct {
	*counter
	entered chan struct{} // closed once the held initialize arrived
	let     chan struct{}
}

func newHeldOpening(t *testing.T, nth int32) *heldOpening {
	t.Helper()
	h := &heldOpening{counter: &counter{live: map[string]bool{}}, entered: make(chan struct{}), let: make(chan struct{})}
	var inits atomic.Int32
	hooks := &server.Hooks{}
	hooks.AddBeforeInitialize(func(context.Context, any, *mcp.InitializeRequest) {
		if inits.Add(1) == nth {
			close(h.entered)
			<-h.let
		}
	})
	hooks.AddOnRegisterSession(func(_ context.Context, s server.ClientSession) {
		h.mu.Lock()
		h.live[s.SessionID()] = true
		h.mu.Unlock()
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		h.mu.Lock()
		delete(h.live, s.SessionID())
		h.mu.Unlock()
	})
	up := server.NewMCPServer("held", "1", server.WithToolCapabilities(true), server.WithHooks(hooks))
	up.AddTool(mcp.NewTool("increment"), echo)
	srv := httptest.NewServer(server.NewStreamableHTTPServer(up,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	t.Cleanup(srv.Close)
	t.Cleanup(h.release)
	h.url = srv.URL
	return h
}

// release lets the held initialize go on.
func (h *heldOpening) release() {
	select {
	case <-h.let:
	default:
		close(h.let)
	}
}

// callAsync makes a request of who on hub; its error arrives on the channel.
func callAsync(ctx context.Context, hub *tools.Hub, who tools.Session) <-chan error {
	done := make(chan error, 1)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "increment"
		_, _, err := hub.CallTool(ctx, who, req)
		done <- err
	}()
	return done
}

// TestEndWhileOpening ends an agent session while its first request is
// opening its upstream session (the upstream holds the initialize). Its
// record must not say that an upstream session opened after saying it
// closed, and the upstream session must end upstream.
func TestEndWhileOpening(t *testing.T) {
	up := newHeldOpening(t, 2) // warden's own session is the first
	hub, ev := startHub(t, tools.Spec{Name: "up", URL: up.url, Spare: -1})
	who := tools.Session{ID: "s1", Agent: "a"}
	ctx, cancel := context.WithCancel(t.Context())
	done := callAsync(ctx, hub, who)
	<-up.entered
	cancel() // as the supervisor does before Release
	hub.Release(who, "ended")
	up.release()
	<-done
	got := ev.of("s1")
	if len(got) > 0 && !slices.Equal(got, []string{"opened", "closed"}) {
		t.Fatalf("events of a session that ended while its upstream session opened: %v, want none or opened, closed", got)
	}
	testkit.WaitFor(t, 5*time.Second, "the upstream session to end upstream", func() bool { return up.liveCount() == 1 })
}

// TestSlowOpeningIsNotIdle holds the opening of an agent session's
// upstream session for longer than the idle timeout: the reaper must
// leave it alone, and the request it opens for must find it open. Another
// session, opened after it and reaped, shows the reaper went past its
// deadline.
func TestSlowOpeningIsNotIdle(t *testing.T) {
	up := newHeldOpening(t, 2)
	hub, ev := startHub(t, tools.Spec{Name: "up", URL: up.url, Spare: -1, IdleTimeout: time.Second})
	slow := callAsync(t.Context(), hub, tools.Session{ID: "slow", Agent: "a"})
	<-up.entered
	increment(t, hub, tools.Session{ID: "later", Agent: "b"})
	testkit.WaitFor(t, 10*time.Second, "the later session to be reaped", func() bool { return slices.Contains(ev.of("later"), "closed") })
	up.release()
	if err := <-slow; err != nil {
		t.Fatalf("the request whose upstream session opened slowly: %v", err)
	}
	if n := hub.Status()[0].Sessions; n != 1 {
		t.Fatalf("%d upstream sessions open right after the slow one's request, want 1 (it)", n)
	}
}
