package e2e

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/tools"
)

// One upstream session per agent session (issue 14), proved with the
// reference server-everything over Streamable HTTP and stdio, each with
// its default sharing (per_session over HTTP, per_agent over stdio: A and
// B are different agents either way). What the server keeps per session:
//   - gzip-file-as-resource registers a resource for the calling session
//     (demo://resource/session/<name>);
//   - logging/setLevel sets the level of the session's log messages;
//     resources/subscribe answers with an info-level log message;
//   - 350 ms after initialize it asks roots/list, outside any call, and
//     get-roots-list answers with what it got (asking again if it has none);
//   - toggle-subscriber-updates sends notifications/resources/updated for
//     the session's subscriptions at once, then every 5 seconds.

// everythingUpdateEvery is server-everything's period for simulated
// resource updates (resources/subscriptions.js).
const everythingUpdateEvery = 5 * time.Second

func TestUpstreamSessionsEverything(t *testing.T) {
	features := []struct {
		name string
		// noSpares asks for no spare upstream sessions: each is then
		// initialised for its agent, and the roots/list the upstream sends
		// after initialize is the agent's to answer.
		noSpares bool
		run      func(t *testing.T, url string)
	}{
		{"session resource", false, everythingSessionResource},
		{"logging level", false, everythingLoggingLevel},
		{"roots", false, everythingRoots},
		{"roots outside a call", true, everythingRootsOutsideCall},
		{"resources updated", false, everythingResourceUpdated},
	}
	for transport, spec := range everythingUpstreams(t) {
		t.Run(transport, func(t *testing.T) {
			for _, f := range features {
				t.Run(f.name, func(t *testing.T) {
					spec := spec
					if f.noSpares {
						spec.Spare = -1
					}
					f.run(t, startWarden(t, []tools.Spec{spec}, sessionAgents).URL)
				})
			}
		})
	}
}

// Each check below runs agents A and B against the MCP endpoint at url
// (warden's, in the test; it passes against server-everything itself,
// where every client has a session of its own).

// everythingSessionResource: A's gzip-file-as-resource registers a resource
// in A's upstream session; A lists and reads it, B neither lists nor reads
// it.
func everythingSessionResource(t *testing.T, url string) {
	a := connect(t, url, agentTokenA)
	b := connect(t, url, agentTokenB)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	const secret = "only agent a may read this"
	res := callTool(t, a, "gzip-file-as-resource", map[string]any{
		"name":       "a-private.txt.gz",
		"data":       "data:text/plain;base64," + base64.StdEncoding.EncodeToString([]byte(secret)),
		"outputType": "resourceLink",
	})
	if res.IsError {
		t.Fatalf("gzip-file-as-resource: %s", resultText(res))
	}
	const uri = "demo://resource/session/a-private.txt.gz"
	waitFor(t, 30*time.Second, "A's session resource in A's resources/list", func() bool {
		return containsResource(t, a, uri)
	})
	rr := mcp.ReadResourceRequest{}
	rr.Params.URI = uri
	rd, err := a.ReadResource(ctx, rr)
	if err != nil {
		t.Fatalf("A reads its own session resource: %v", err)
	}
	if got := gunzipBlob(t, rd); got != secret {
		t.Fatalf("A's session resource holds %q, want %q", got, secret)
	}

	if !containsResource(t, b, "demo://resource/static/document/architecture.md") {
		t.Fatal("B's resources/list lacks the server's static documents")
	}
	if containsResource(t, b, uri) {
		t.Fatalf("B lists A's session resource %s", uri)
	}
	if rd, err := b.ReadResource(ctx, rr); err == nil {
		t.Fatalf("B read A's session resource: %+v", rd.Contents)
	}
}

// containsResource says whether an agent's resources/list has uri.
func containsResource(t *testing.T, c *client.Client, uri string) bool {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	list, err := c.ListResources(ctx, mcp.ListResourcesRequest{})
	if err != nil {
		t.Fatalf("resources/list: %v", err)
	}
	for _, r := range list.Resources {
		if r.URI == uri {
			return true
		}
	}
	return false
}

// gunzipBlob is the text inside a gzipped blob resource.
func gunzipBlob(t *testing.T, rd *mcp.ReadResourceResult) string {
	t.Helper()
	if len(rd.Contents) != 1 {
		t.Fatalf("resource contents = %+v, want one blob", rd.Contents)
	}
	blob, ok := rd.Contents[0].(mcp.BlobResourceContents)
	if !ok {
		t.Fatalf("resource contents = %T, want a blob", rd.Contents[0])
	}
	raw, err := base64.StdEncoding.DecodeString(blob.Blob)
	if err != nil {
		t.Fatal(err)
	}
	zr, err := gzip.NewReader(bytes.NewReader(raw))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

// everythingLoggingLevel: B sets debug, then A sets emergency. On a shared
// upstream session the last level wins and silences B; with its own, B
// still gets the info message its subscribe causes, and A gets nothing
// below emergency.
func everythingLoggingLevel(t *testing.T, url string) {
	a := connect(t, url, agentTokenA)
	b := connect(t, url, agentTokenB)
	an, bn := collectNotes(a), collectNotes(b)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, s := range []struct {
		c     *client.Client
		level mcp.LoggingLevel
	}{{b, mcp.LoggingLevelDebug}, {a, mcp.LoggingLevelEmergency}} {
		req := mcp.SetLevelRequest{}
		req.Params.Level = s.level
		if err := s.c.SetLevel(ctx, req); err != nil {
			t.Fatalf("logging/setLevel %s: %v", s.level, err)
		}
	}
	subscribe(t, a, everythingDoc)
	subscribe(t, b, everythingDoc)
	isSubscribeLog := func(p map[string]any) bool {
		return strings.Contains(fmt.Sprint(p["data"]), "Received Subscribe Resource request")
	}
	waitFor(t, 30*time.Second, "the info log of B's subscribe at B's level debug", func() bool {
		return bn.count(string(mcp.MethodNotificationMessage), isSubscribeLog) > 0
	})
	belowEmergency := func(p map[string]any) bool { return p["level"] != string(mcp.LoggingLevelEmergency) }
	if n := an.count(string(mcp.MethodNotificationMessage), belowEmergency); n != 0 {
		t.Fatalf("A, at level emergency, got %d log messages below it: %v", n, an.all(string(mcp.MethodNotificationMessage)))
	}
}

// everythingDoc is one of server-everything's static resources.
const everythingDoc = "demo://resource/static/document/architecture.md"

func subscribe(t *testing.T, c *client.Client, uri string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req := mcp.SubscribeRequest{}
	req.Params.URI = uri
	if err := c.Subscribe(ctx, req); err != nil {
		t.Fatalf("resources/subscribe %s: %v", uri, err)
	}
}

// rootsPeer is an agent's roots, counting how often it was asked for them
// while the test had no call of that agent in flight.
type rootsPeer struct {
	uri     string
	calling atomic.Bool
	outside atomic.Int32
}

func (p *rootsPeer) ListRoots(context.Context, mcp.ListRootsRequest) (*mcp.ListRootsResult, error) {
	if !p.calling.Load() {
		p.outside.Add(1)
	}
	return &mcp.ListRootsResult{Roots: []mcp.Root{{URI: p.uri, Name: "project"}}}, nil
}

// call calls a tool of c, marking the call in flight.
func (p *rootsPeer) call(t *testing.T, c *client.Client, name string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	p.calling.Store(true)
	defer p.calling.Store(false)
	return callTool(t, c, name, args)
}

// rootsAgents connects A and B, each declaring roots of its own.
func rootsAgents(t *testing.T, url string) (a, b *client.Client, ra, rb *rootsPeer) {
	t.Helper()
	ra = &rootsPeer{uri: "file:///work/agent-a-project"}
	rb = &rootsPeer{uri: "file:///work/agent-b-project"}
	a = connect(t, url, agentTokenA, client.WithRootsHandler(ra))
	b = connect(t, url, agentTokenB, client.WithRootsHandler(rb))
	return a, b, ra, rb
}

// everythingRoots: get-roots-list answers each agent with its own roots.
func everythingRoots(t *testing.T, url string) {
	a, b, ra, rb := rootsAgents(t, url)
	for _, s := range []struct {
		c          *client.Client
		own, other *rootsPeer
	}{{a, ra, rb}, {b, rb, ra}} {
		got := resultText(s.own.call(t, s.c, "get-roots-list", map[string]any{}))
		if !strings.Contains(got, s.own.uri) || strings.Contains(got, s.other.uri) {
			t.Fatalf("get-roots-list for the agent with root %s = %q", s.own.uri, got)
		}
	}
}

// everythingRootsOutsideCall: the roots/list the upstream sends after its
// session is initialised, with no call in flight, reaches the agent whose
// session it is; get-roots-list then answers with those roots.
func everythingRootsOutsideCall(t *testing.T, url string) {
	a, b, ra, rb := rootsAgents(t, url)
	for _, s := range []struct {
		name       string
		c          *client.Client
		own, other *rootsPeer
	}{{"A", a, ra, rb}, {"B", b, rb, ra}} {
		s.own.call(t, s.c, "echo", map[string]any{"message": "open my upstream session"})
		waitFor(t, 30*time.Second, "the upstream's roots/list outside a call to reach "+s.name, func() bool {
			return s.own.outside.Load() > 0
		})
		if got := resultText(s.own.call(t, s.c, "get-roots-list", map[string]any{})); !strings.Contains(got, s.own.uri) || strings.Contains(got, s.other.uri) {
			t.Fatalf("get-roots-list for %s = %q, want %s only", s.name, got, s.own.uri)
		}
	}
}

// everythingResourceUpdated: A and B subscribe to the same resource; only
// A turns on the upstream's updates for its session, so only A gets
// notifications/resources/updated. A's second update comes a period after
// the first: by then a copy of the first sent to B would have arrived.
func everythingResourceUpdated(t *testing.T, url string) {
	a := connect(t, url, agentTokenA)
	b := connect(t, url, agentTokenB)
	an, bn := collectNotes(a), collectNotes(b)
	subscribe(t, a, everythingDoc)
	subscribe(t, b, everythingDoc)
	if res := callTool(t, a, "toggle-subscriber-updates", map[string]any{}); res.IsError || !strings.Contains(resultText(res), "Started") {
		t.Fatalf("toggle-subscriber-updates = %q", resultText(res))
	}
	isDoc := func(p map[string]any) bool { return p["uri"] == everythingDoc }
	waitFor(t, 3*everythingUpdateEvery, "two resources/updated for A", func() bool {
		return an.count(string(mcp.MethodNotificationResourceUpdated), isDoc) >= 2
	})
	if n := bn.count(string(mcp.MethodNotificationResourceUpdated), isDoc); n != 0 {
		t.Fatalf("B, whose upstream session sends no updates, got %d resources/updated", n)
	}
}

// sessionNotes keeps what an agent's client was notified of.
type sessionNotes struct {
	mu  sync.Mutex
	got []mcp.JSONRPCNotification
}

func collectNotes(c *client.Client) *sessionNotes {
	n := &sessionNotes{}
	c.OnNotification(func(m mcp.JSONRPCNotification) {
		n.mu.Lock()
		defer n.mu.Unlock()
		n.got = append(n.got, m)
	})
	return n
}

// count is how many notifications of method have params that match.
func (n *sessionNotes) count(method string, match func(map[string]any) bool) int {
	return len(n.matching(method, match))
}

// all is the params of every notification of method.
func (n *sessionNotes) all(method string) []map[string]any {
	return n.matching(method, func(map[string]any) bool { return true })
}

func (n *sessionNotes) matching(method string, match func(map[string]any) bool) []map[string]any {
	n.mu.Lock()
	defer n.mu.Unlock()
	var out []map[string]any
	for _, m := range n.got {
		if m.Method == method && match(m.Params.AdditionalFields) {
			out = append(out, m.Params.AdditionalFields)
		}
	}
	return out
}
