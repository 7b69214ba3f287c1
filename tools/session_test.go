package tools_test

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/tools"
)

// counter is a stateful upstream: each of its MCP sessions counts its own
// calls, and it knows which of its sessions are live.
type counter struct {
	srv  *server.MCPServer
	url  string
	mu   sync.Mutex
	live map[string]bool
	seen int
}

func newCounter(t *testing.T) *counter {
	t.Helper()
	c := &counter{live: map[string]bool{}}
	hooks := &server.Hooks{}
	hooks.AddOnRegisterSession(func(_ context.Context, s server.ClientSession) {
		c.mu.Lock()
		c.live[s.SessionID()] = true
		c.seen++
		c.mu.Unlock()
	})
	hooks.AddOnUnregisterSession(func(_ context.Context, s server.ClientSession) {
		c.mu.Lock()
		delete(c.live, s.SessionID())
		c.mu.Unlock()
	})
	c.srv = server.NewMCPServer("counter", "1", server.WithToolCapabilities(true), server.WithHooks(hooks))
	var counts sync.Map
	c.srv.AddTool(mcp.NewTool("increment"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		id := server.ClientSessionFromContext(ctx).SessionID()
		v, _ := counts.LoadOrStore(id, new(int))
		c.mu.Lock()
		*v.(*int)++
		n := *v.(*int)
		c.mu.Unlock()
		return mcp.NewToolResultText(fmt.Sprint(n)), nil
	})
	c.srv.AddTool(mcp.NewTool("current"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		v, ok := counts.Load(server.ClientSessionFromContext(ctx).SessionID())
		if !ok {
			return mcp.NewToolResultError("nothing counted in this session"), nil
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return mcp.NewToolResultText(fmt.Sprint(*v.(*int))), nil
	})
	c.srv.AddTool(mcp.NewTool("add_tool"), func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		id := server.ClientSessionFromContext(ctx).SessionID()
		if err := c.srv.AddSessionTool(id, mcp.NewTool("secret"), echo); err != nil {
			return nil, err
		}
		return mcp.NewToolResultText("added"), nil
	})
	hs := httptest.NewServer(server.NewStreamableHTTPServer(c.srv,
		server.WithStreamableHTTPProtocolVersions("2025-11-25", "2025-06-18", "2025-03-26")))
	t.Cleanup(hs.Close)
	c.url = hs.URL
	return c
}

func (c *counter) liveCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.live)
}

// events records what the hub hands the agent side.
type events struct {
	mu    sync.Mutex
	byID  map[string][]string // agent session → "opened"/"reopened"/"closed"
	views map[string]*tools.Catalog
}

func newEvents() *events {
	return &events{byID: map[string][]string{}, views: map[string]*tools.Catalog{}}
}

func (e *events) of(id string) []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return slices.Clone(e.byID[id])
}

func (e *events) Notify(context.Context, string, string, map[string]any) error { return nil }
func (e *events) CreateMessage(context.Context, string, mcp.CreateMessageRequest) (*mcp.CreateMessageResult, error) {
	return nil, errors.New("no sampling here")
}
func (e *events) Elicit(context.Context, string, mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	return nil, errors.New("no elicitation here")
}
func (e *events) ListRoots(context.Context, string, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	return &mcp.ListRootsResult{}, nil
}
func (e *events) ResourceUpdated([]string, string) {}
func (e *events) SessionCatalog(id string, c *tools.Catalog) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.views[id] = c
}
func (e *events) UpstreamSession(id string, ev tools.UpstreamEvent) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.byID[id] = append(e.byID[id], ev.Action)
}

func startHub(t *testing.T, spec tools.Spec) (*tools.Hub, *events) {
	t.Helper()
	hub, err := tools.NewHub([]tools.Spec{spec}, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ev := newEvents()
	hub.Start(t.Context(), ev, func(*tools.Catalog) {})
	t.Cleanup(func() { _ = hub.Close() })
	return hub, ev
}

func increment(t *testing.T, hub *tools.Hub, who tools.Session) string {
	t.Helper()
	req := mcp.CallToolRequest{}
	req.Params.Name = "increment"
	res, _, err := hub.CallTool(t.Context(), who, req)
	if err != nil {
		t.Fatalf("%s: %v", who.ID, err)
	}
	return res.Content[0].(mcp.TextContent).Text
}

// TestSharingKeepsStateApart counts through a stateful upstream in each
// sharing mode: who shares a count is who shares an upstream session.
func TestSharingKeepsStateApart(t *testing.T) {
	a1, a2, b := tools.Session{ID: "a1", Agent: "a"}, tools.Session{ID: "a2", Agent: "a"}, tools.Session{ID: "b1", Agent: "b"}
	cases := []struct {
		sharing tools.Sharing
		want    []string // counts seen by a1, a2, b1, a1 in that order
		live    int      // upstream sessions live then, warden's own included
	}{
		{tools.PerSession, []string{"1", "1", "1", "2"}, 4},
		{tools.PerAgent, []string{"1", "2", "1", "3"}, 3},
		{tools.Shared, []string{"1", "2", "3", "4"}, 1},
	}
	for _, tc := range cases {
		t.Run(string(tc.sharing), func(t *testing.T) {
			up := newCounter(t)
			hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, Sharing: tc.sharing})
			var got []string
			for _, who := range []tools.Session{a1, a2, b, a1} {
				got = append(got, increment(t, hub, who))
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("counts %v, want %v", got, tc.want)
			}
			if n := up.liveCount(); n != tc.live {
				t.Fatalf("%d upstream sessions live, want %d", n, tc.live)
			}
		})
	}
}

// TestReleaseClosesUpstreamSession ends agent sessions and checks that
// their upstream sessions end upstream and that the opening and closing
// were reported; an agent's shared upstream session ends with its last
// session.
func TestReleaseClosesUpstreamSession(t *testing.T) {
	up := newCounter(t)
	hub, ev := startHub(t, tools.Spec{Name: "up", URL: up.url, Sharing: tools.PerAgent})
	a1, a2 := tools.Session{ID: "a1", Agent: "a"}, tools.Session{ID: "a2", Agent: "a"}
	increment(t, hub, a1)
	increment(t, hub, a2)
	if n := up.liveCount(); n != 2 {
		t.Fatalf("%d upstream sessions live, want warden's own and agent a's", n)
	}
	hub.Release(a1, "ended")
	if n := up.liveCount(); n != 2 {
		t.Fatalf("agent a's upstream session closed with one of its two sessions still live (%d live)", n)
	}
	hub.Release(a2, "ended")
	testkit.WaitFor(t, 5*time.Second, "agent a's upstream session to end upstream", func() bool { return up.liveCount() == 1 })
	if got := ev.of("a1"); !slices.Equal(got, []string{"opened"}) {
		t.Fatalf("a1's events %v", got)
	}
	if got := ev.of("a2"); !slices.Equal(got, []string{"opened", "closed"}) {
		t.Fatalf("a2's events %v", got)
	}
}

// TestCapRefusesClearly opens upstream sessions up to the cap: the next
// agent session is refused with ErrCapacity until one ends.
func TestCapRefusesClearly(t *testing.T) {
	up := newCounter(t)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, MaxSessions: 2, Spare: -1})
	increment(t, hub, tools.Session{ID: "s1", Agent: "a"})
	increment(t, hub, tools.Session{ID: "s2", Agent: "a"})
	req := mcp.CallToolRequest{}
	req.Params.Name = "increment"
	_, _, err := hub.CallTool(t.Context(), tools.Session{ID: "s3", Agent: "a"}, req)
	if !errors.Is(err, tools.ErrCapacity) || !strings.Contains(err.Error(), "max_sessions") {
		t.Fatalf("a third session past a cap of 2: %v", err)
	}
	hub.Release(tools.Session{ID: "s1", Agent: "a"}, "ended")
	if got := increment(t, hub, tools.Session{ID: "s3", Agent: "a"}); got != "1" {
		t.Fatalf("s3 counted %s once s1 ended, want 1", got)
	}
}

// TestIdleAndResumedSessionsReopen closes an idle upstream session and
// checks that the next one says it replaces it, as one opened for a
// session resumed after a restart does.
func TestIdleAndResumedSessionsReopen(t *testing.T) {
	up := newCounter(t)
	hub, ev := startHub(t, tools.Spec{Name: "up", URL: up.url, IdleTimeout: 200 * time.Millisecond})
	s := tools.Session{ID: "s1", Agent: "a"}
	increment(t, hub, s)
	increment(t, hub, s)
	testkit.WaitFor(t, 5*time.Second, "the idle upstream session to close", func() bool { return up.liveCount() == 1 })
	// The state is gone: a call that fails for it says why.
	req := mcp.CallToolRequest{}
	req.Params.Name = "current"
	res, _, err := hub.CallTool(t.Context(), s, req)
	if err != nil || !res.IsError {
		t.Fatalf("current on the new upstream session: %+v %v, want a tool error", res, err)
	}
	if last := res.Content[len(res.Content)-1].(mcp.TextContent).Text; !strings.Contains(last, "opened anew") || !strings.Contains(last, "idle") {
		t.Fatalf("the failed call does not say that the upstream session was replaced: %q", last)
	}
	if got := increment(t, hub, s); got != "1" {
		t.Fatalf("count after the idle upstream session closed: %s, want 1 (a new upstream session)", got)
	}
	if got := ev.of("s1"); !slices.Equal(got, []string{"opened", "closed", "reopened"}) {
		t.Fatalf("events %v", got)
	}
	r := tools.Session{ID: "r1", Agent: "a"}
	hub.Resumed(r)
	increment(t, hub, r)
	if got := ev.of("r1"); !slices.Equal(got, []string{"reopened"}) {
		t.Fatalf("a resumed session's first upstream session: %v, want reopened", got)
	}
}

// TestSpareIsHandedOver keeps a spare upstream session: the first agent
// session takes it, and another is opened.
func TestSpareIsHandedOver(t *testing.T) {
	up := newCounter(t)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, Spare: 1})
	testkit.WaitFor(t, 5*time.Second, "a spare", func() bool { return hub.Status()[0].Spares == 1 })
	increment(t, hub, tools.Session{ID: "s1", Agent: "a"})
	testkit.WaitFor(t, 5*time.Second, "a new spare", func() bool {
		st := hub.Status()[0]
		return st.Spares == 1 && st.Sessions == 1
	})
	up.mu.Lock()
	seen := up.seen
	up.mu.Unlock()
	if seen != 3 {
		t.Fatalf("upstream saw %d sessions, want 3: warden's own, the spare handed over, the new spare", seen)
	}
}

// TestSessionOnlyToolStaysInItsView has the upstream add a tool for one
// session: that agent session's view has it, another's does not, and a
// call of it from the other is refused.
func TestSessionOnlyToolStaysInItsView(t *testing.T) {
	up := newCounter(t)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url})
	a, b := tools.Session{ID: "a1", Agent: "a"}, tools.Session{ID: "b1", Agent: "b"}
	increment(t, hub, b)
	addSecret(t, hub, a)
	if _, ok := hub.CatalogFor("b1").Tool("secret"); ok {
		t.Fatal("b's view has a tool the upstream added for a's session")
	}
	if _, ok := hub.Catalog().Tool("secret"); ok {
		t.Fatal("the catalog has a tool the upstream added for one session")
	}
	req := mcp.CallToolRequest{}
	req.Params.Name = "secret"
	if _, _, err := hub.CallTool(t.Context(), b, req); !errors.Is(err, tools.ErrUnknown) {
		t.Fatalf("b's call of a's tool: %v, want ErrUnknown", err)
	}
	if _, _, err := hub.CallTool(t.Context(), a, req); err != nil {
		t.Fatalf("a's call of its own tool: %v", err)
	}
}

// TestAgentsLaterSessionSeesItsUpstreamSessionsTools: per agent, a tool the
// upstream added on the agent's upstream session is in the view of the
// agent's session that joins it later, and in no other agent's.
func TestAgentsLaterSessionSeesItsUpstreamSessionsTools(t *testing.T) {
	up := newCounter(t)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, Sharing: tools.PerAgent})
	a1, a2, b := tools.Session{ID: "a1", Agent: "a"}, tools.Session{ID: "a2", Agent: "a"}, tools.Session{ID: "b1", Agent: "b"}
	req := mcp.CallToolRequest{}
	req.Params.Name = "add_tool"
	if _, _, err := hub.CallTool(t.Context(), a1, req); err != nil {
		t.Fatal(err)
	}
	testkit.WaitFor(t, 5*time.Second, "a1's view to have the tool", func() bool {
		_, ok := hub.CatalogFor("a1").Tool("secret")
		return ok
	})
	increment(t, hub, a2)
	increment(t, hub, b)
	if _, ok := hub.CatalogFor("a2").Tool("secret"); !ok {
		t.Fatal("a2 shares agent a's upstream session but its view lacks the tool added there")
	}
	if _, ok := hub.CatalogFor("b1").Tool("secret"); ok {
		t.Fatal("agent b's view has a tool added on agent a's upstream session")
	}
}

// TestIdleSpareIsReplaced: a spare that waited longer than the idle
// timeout may have expired upstream; it is closed and another opened.
func TestIdleSpareIsReplaced(t *testing.T) {
	up := newCounter(t)
	hub, _ := startHub(t, tools.Spec{Name: "up", URL: up.url, Spare: 1, IdleTimeout: 200 * time.Millisecond})
	testkit.WaitFor(t, 5*time.Second, "a spare", func() bool { return hub.Status()[0].Spares == 1 })
	testkit.WaitFor(t, 5*time.Second, "the idle spare to be replaced", func() bool {
		up.mu.Lock()
		defer up.mu.Unlock()
		return up.seen >= 3 && len(up.live) == 2 // warden's own, and the spare that replaced the first
	})
	if got := increment(t, hub, tools.Session{ID: "s1", Agent: "a"}); got != "1" {
		t.Fatalf("count on a replaced spare: %s", got)
	}
}
