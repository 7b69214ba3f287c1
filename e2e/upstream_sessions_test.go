package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/tools"
)

// One upstream session per agent session (issue 14), proved with the
// counterserver fixture: a counter per MCP session, the session's id and
// process, tools added for one session, and (over HTTP) the list of the
// sessions the server holds open.

const (
	agentTokenA = "agent-a-token-0123456789"
	agentTokenB = "agent-b-token-0123456789"
)

var sessionAgents = []supervisor.Agent{
	{Name: "a", TokenSHA256: hashToken(agentTokenA)},
	{Name: "b", TokenSHA256: hashToken(agentTokenB)},
}

// counterUpstream is a running counterserver as warden reaches it.
type counterUpstream struct {
	spec tools.Spec
	// live lists the sessions the server holds open; nil over stdio,
	// where a session is a process.
	live func(t *testing.T) []string
}

// newCounterUpstream runs the counterserver over transport ("http": one
// process serving every session; "stdio": warden starts one process per
// upstream session) and returns the spec warden gets, with sharing.
func newCounterUpstream(t *testing.T, transport string, sharing tools.Sharing) counterUpstream {
	t.Helper()
	bin := buildCommand(t, "./e2e/fixtures/counterserver")
	spec := tools.Spec{Name: "counter", Sharing: sharing}
	if transport == "stdio" {
		spec.Command = bin
		return counterUpstream{spec: spec}
	}
	spec.URL = startCounterHTTP(t, bin)
	base := strings.TrimSuffix(spec.URL, "/mcp")
	return counterUpstream{spec: spec, live: func(t *testing.T) []string { return counterLive(t, base) }}
}

// startCounterHTTP runs the counterserver over Streamable HTTP on a free
// loopback port and returns its MCP URL, which it prints first.
func startCounterHTTP(t *testing.T, bin string) string {
	t.Helper()
	cmd := exec.Command(bin, "-http", "127.0.0.1:0")
	cmd.Stderr = testWriter{t}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("counterserver did not print its URL: %v", err)
	}
	return strings.TrimSpace(line)
}

// counterLive is the list of sessions the HTTP counterserver holds open.
func counterLive(t *testing.T, base string) []string {
	t.Helper()
	resp, err := http.Get(base + "/live")
	if err != nil {
		t.Fatalf("GET /live: %v", err)
	}
	defer resp.Body.Close()
	var ids []string
	if err := json.NewDecoder(resp.Body).Decode(&ids); err != nil {
		t.Fatalf("GET /live: %v", err)
	}
	return ids
}

// upstreamIdentity is whoami's answer: which upstream session, in which
// process, served the call.
type upstreamIdentity struct {
	Session string `json:"session"`
	PID     int    `json:"pid"`
}

func whoami(t *testing.T, c *client.Client) upstreamIdentity {
	t.Helper()
	res := callTool(t, c, "whoami", nil)
	var id upstreamIdentity
	if err := json.Unmarshal([]byte(resultText(res)), &id); res.IsError || err != nil || id.Session == "" || id.PID == 0 {
		t.Fatalf("whoami = %q (%v)", resultText(res), err)
	}
	return id
}

// upstreamActions is what the upstream_session events on a session's chain
// for upstream say, in order: "opened" (also for a reopened one), "closed",
// or the event's data when it says neither.
func upstreamActions(t *testing.T, w *wardenUnderTest, sid, upstream string) []string {
	t.Helper()
	evs, err := w.Store.Events(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range evs {
		if e.Kind != store.KindUpstreamSession || e.Upstream != upstream {
			continue
		}
		switch data := string(e.Data); {
		case strings.Contains(data, "opened"):
			out = append(out, "opened")
		case strings.Contains(data, "closed"):
			out = append(out, "closed")
		default:
			out = append(out, data)
		}
	}
	return out
}

// awaitUpstreamClosed waits until session sid's chain says its upstream
// session was opened and, later, closed.
func awaitUpstreamClosed(t *testing.T, w *wardenUnderTest, sid, upstream string) {
	t.Helper()
	waitFor(t, 10*time.Second, "upstream_session opened then closed on "+sid+"'s chain", func() bool {
		acts := upstreamActions(t, w, sid, upstream)
		i := slices.Index(acts, "opened")
		return i >= 0 && slices.Contains(acts[i:], "closed")
	})
}

// verifyChains checks that every chain in w's history is intact.
func verifyChains(t *testing.T, w *wardenUnderTest) {
	t.Helper()
	rep, err := w.Store.Verify(context.Background())
	if err != nil || len(rep.Broken) != 0 {
		t.Fatalf("verify: %+v %v", rep, err)
	}
}

// TestCounterServerLiveSessions checks the fixture itself, without warden:
// a session is on /live from its initialize until the client's DELETE.
func TestCounterServerLiveSessions(t *testing.T) {
	up := newCounterUpstream(t, "http", "")
	c, err := testkit.Dial(up.spec.URL, "unused", "fixture-check", nil)
	if err != nil {
		t.Fatal(err)
	}
	id := whoami(t, c)
	if live := up.live(t); !slices.Contains(live, id.Session) {
		t.Fatalf("live sessions %v lack %s", live, id.Session)
	}
	if got := resultText(callTool(t, c, "increment", nil)); got != "1" {
		t.Fatalf("first increment = %q", got)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the DELETEd session to leave /live", func() bool {
		return !slices.Contains(up.live(t), id.Session)
	})
}

// TestUpstreamSessionsCounter: agents A and B increment in turn, then a
// second session of A increments once. Per session, every agent session
// counts alone; per agent, A's two sessions share a count; shared (today's
// behaviour, for stateless servers) everyone shares one.
func TestUpstreamSessionsCounter(t *testing.T) {
	steps := []string{"a1", "b1", "a1", "b1", "a1", "a2"}
	for _, transport := range []string{"http", "stdio"} {
		for _, tc := range []struct {
			sharing tools.Sharing
			want    []string // the count each step returns
		}{
			{tools.PerSession, []string{"1", "1", "2", "2", "3", "1"}},
			{tools.PerAgent, []string{"1", "1", "2", "2", "3", "4"}},
			{tools.Shared, []string{"1", "2", "3", "4", "5", "6"}},
		} {
			t.Run(transport+"/"+string(tc.sharing), func(t *testing.T) {
				up := newCounterUpstream(t, transport, tc.sharing)
				w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
				clients := map[string]*client.Client{
					"a1": connect(t, w.URL, agentTokenA),
					"a2": connect(t, w.URL, agentTokenA),
					"b1": connect(t, w.URL, agentTokenB),
				}
				var got []string
				for _, s := range steps {
					res := callTool(t, clients[s], "increment", nil)
					if res.IsError {
						t.Fatalf("%s: increment failed: %s", s, resultText(res))
					}
					got = append(got, resultText(res))
				}
				if !slices.Equal(got, tc.want) {
					t.Fatalf("counts for %v = %v, want %v", steps, got, tc.want)
				}
			})
		}
	}
}

// TestUpstreamSessionEndsWithAgentSession: when an agent session is killed
// by an operator, or closed by its client, warden closes its upstream
// session (over HTTP the server forgets it; over stdio the process ends),
// says so on the session's chain, and leaves other agents' sessions be.
func TestUpstreamSessionEndsWithAgentSession(t *testing.T) {
	for _, transport := range []string{"http", "stdio"} {
		t.Run(transport, func(t *testing.T) {
			up := newCounterUpstream(t, transport, tools.PerSession)
			w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
			admin := routesAdminOf(t, w)
			killed := connect(t, w.URL, agentTokenA)
			closed := connect(t, w.URL, agentTokenA)
			other := connect(t, w.URL, agentTokenB)
			ids := map[string]upstreamIdentity{}
			for name, c := range map[string]*client.Client{"killed": killed, "closed": closed, "other": other} {
				ids[name] = whoami(t, c)
			}
			// gone and alive tell whether an agent session's upstream
			// session is still held by the upstream.
			gone := func(name string) bool {
				if up.live != nil {
					return !slices.Contains(up.live(t), ids[name].Session)
				}
				return processGone(ids[name].PID)
			}
			if up.live != nil {
				if ids["killed"].Session == ids["closed"].Session || ids["killed"].Session == ids["other"].Session {
					t.Fatalf("agent sessions share an upstream session: %+v", ids)
				}
			} else if ids["killed"].PID == ids["closed"].PID || ids["killed"].PID == ids["other"].PID {
				t.Fatalf("agent sessions share an upstream process: %+v", ids)
			}
			for name := range ids {
				if gone(name) {
					t.Fatalf("the upstream session of %s is not live before anything ended: %+v", name, ids[name])
				}
			}

			ksid := killed.GetSessionId()
			if st, body := admin.Do(t, http.MethodPost, "/v1/sessions/"+ksid+"/kill", map[string]string{"reason": "test kill", "by": "alice"}, nil); st != http.StatusOK {
				t.Fatalf("kill: %d %s", st, body)
			}
			waitFor(t, 10*time.Second, "the killed session's upstream session to end (stdio: its process ended and reaped)", func() bool { return gone("killed") })

			csid := closed.GetSessionId()
			if err := closed.Close(); err != nil {
				t.Fatalf("close: %v", err)
			}
			waitFor(t, 10*time.Second, "the closed session's upstream session to end (stdio: its process ended and reaped)", func() bool { return gone("closed") })

			if gone("other") {
				t.Fatalf("ending A's sessions ended B's upstream session %+v", ids["other"])
			}
			if got := resultText(callTool(t, other, "increment", nil)); got != "1" {
				t.Fatalf("B's increment after A's sessions ended = %q, want 1", got)
			}
			awaitUpstreamClosed(t, w, ksid, "counter")
			awaitUpstreamClosed(t, w, csid, "counter")
			if acts := upstreamActions(t, w, other.GetSessionId(), "counter"); len(acts) == 0 || acts[0] != "opened" || slices.Contains(acts, "closed") {
				t.Fatalf("B's chain says its upstream session was %v, want opened and not closed: it is live", acts)
			}
			verifyChains(t, w)
		})
	}
}

// TestUpstreamSessionToolsStayInTheirSession: a tool the upstream adds for
// A's upstream session (list_changed to that session only) is listed and
// callable for A, and neither listed nor callable for B.
func TestUpstreamSessionToolsStayInTheirSession(t *testing.T) {
	for _, transport := range []string{"http", "stdio"} {
		t.Run(transport, func(t *testing.T) {
			up := newCounterUpstream(t, transport, tools.PerSession)
			w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
			a := connect(t, w.URL, agentTokenA)
			b := connect(t, w.URL, agentTokenB)
			if got := resultText(callTool(t, b, "increment", nil)); got != "1" {
				t.Fatalf("B's increment = %q", got)
			}
			if got := resultText(callTool(t, a, "add_tool", nil)); got != "secret_1" {
				t.Fatalf("add_tool = %q, want secret_1", got)
			}
			if names := toolNames(t, a, "secret_1"); !slices.Contains(names, "secret_1") {
				t.Fatalf("A's tools/list = %v, want the secret_1 its upstream session added", names)
			}
			if res := callTool(t, a, "secret_1", nil); res.IsError || !strings.HasPrefix(resultText(res), "secret_1 of session") {
				t.Fatalf("A's call of its own secret_1 = %q (error %v)", resultText(res), res.IsError)
			}
			names := toolNames(t, b)
			if !slices.Contains(names, "increment") || slices.Contains(names, "secret_1") {
				t.Fatalf("B's tools/list = %v, want increment and not A's secret_1", names)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req := mcp.CallToolRequest{}
			req.Params.Name = "secret_1"
			if res, err := b.CallTool(ctx, req); err == nil && !res.IsError {
				t.Fatalf("B called A's secret_1: %q", resultText(res))
			}
		})
	}
}

// capMessage is how a refusal at an upstream's session cap reads.
var capMessage = regexp.MustCompile(`(?i)cap|max.?sessions|limit|too many`)

// TestUpstreamSessionCap: with MaxSessions 1, the first agent session is
// served, a second one is refused with an error that names the cap, and
// once the first ends a new session is served, with a fresh counter.
func TestUpstreamSessionCap(t *testing.T) {
	for _, transport := range []string{"http", "stdio"} {
		t.Run(transport, func(t *testing.T) {
			up := newCounterUpstream(t, transport, tools.PerSession)
			up.spec.MaxSessions = 1
			up.spec.Spare = -1
			w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
			first := connect(t, w.URL, agentTokenA)
			if got := resultText(callTool(t, first, "increment", nil)); got != "1" {
				t.Fatalf("first session's increment = %q", got)
			}
			second := connect(t, w.URL, agentTokenB)
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			req := mcp.CallToolRequest{}
			req.Params.Name = "increment"
			res, err := second.CallTool(ctx, req)
			switch {
			case err == nil && !res.IsError:
				t.Fatalf("a second session was served over the cap of 1: increment = %q", resultText(res))
			case err != nil && !capMessage.MatchString(err.Error()):
				t.Fatalf("refusal over the cap = %v, want it to name the cap", err)
			case err == nil && !capMessage.MatchString(resultText(res)):
				t.Fatalf("refusal over the cap = %q, want it to name the cap", resultText(res))
			}

			fsid := first.GetSessionId()
			if err := first.Close(); err != nil {
				t.Fatal(err)
			}
			awaitUpstreamClosed(t, w, fsid, "counter")
			third := connect(t, w.URL, agentTokenB)
			var got string
			waitFor(t, 10*time.Second, "a new session to be served once the first ended", func() bool {
				res, err := third.CallTool(ctx, req)
				if err != nil || res.IsError {
					return false
				}
				got = resultText(res)
				return true
			})
			if got != "1" {
				t.Fatalf("new session's first increment = %q, want 1 (a fresh upstream session)", got)
			}
		})
	}
}
