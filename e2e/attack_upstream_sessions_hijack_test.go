package e2e

import (
	"net/http"
	"slices"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/tools"
)

// Attack on A's upstream session by B, who knows A's agent session id
// (it is a secret; assume it leaked): B's token with A's id, or no token
// from another address, must neither end A's session, and with it A's
// upstream session, nor carry B's requests on A's upstream session.

// TestAttackUpstreamSessionsOtherAgentsSessionID: B sends, with A's
// session id, a DELETE and an increment with its own token, and a
// tokenless DELETE from another loopback address. All are refused; A's
// upstream session is still held by the upstream, and A's count went on
// from where A left it.
func TestAttackUpstreamSessionsOtherAgentsSessionID(t *testing.T) {
	up := newCounterUpstream(t, "http", tools.PerSession)
	w := startWarden(t, []tools.Spec{up.spec}, sessionAgents)
	a := connect(t, w.URL, agentTokenA)
	connect(t, w.URL, agentTokenB) // B is a live agent with sessions of its own
	aid := whoami(t, a)
	if got := resultText(callTool(t, a, "increment", nil)); got != "1" {
		t.Fatalf("A's first increment = %q", got)
	}
	sid := a.GetSessionId()

	from := func(ip string) *http.Client { return clientFrom(t, ip) }
	del := func(hc *http.Client, token string) int {
		t.Helper()
		req, err := http.NewRequest(http.MethodDelete, w.URL, http.NoBody)
		if err != nil {
			t.Fatal(err)
		}
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		req.Header.Set(server.HeaderKeySessionID, sid)
		req.Header.Set(mcp.HeaderProtocolVersion, "2025-11-25")
		res, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}

	if st := del(from("127.0.0.1"), agentTokenB); st == http.StatusOK {
		t.Fatal("B's DELETE of A's session id was accepted")
	}
	if st := del(from("127.0.0.2"), ""); st == http.StatusOK {
		t.Fatal("a tokenless DELETE of A's session id from another address was accepted")
	}
	if st, body, _, err := ladderPost(nil, w.URL, agentTokenB, sid, toolCallBody(9, "increment", "{}"), nil); err != nil || st == http.StatusOK {
		t.Fatalf("B's increment on A's session id: %d %s %v, want refused", st, body, err)
	}

	if live := up.live(t); !slices.Contains(live, aid.Session) {
		t.Fatalf("A's upstream session %s is gone after B's attempts (live: %v)", aid.Session, live)
	}
	if got := resultText(callTool(t, a, "increment", nil)); got != "2" {
		t.Fatalf("A's second increment = %q, want 2: its upstream session was ended or used by B", got)
	}
	if acts := upstreamActions(t, w, sid, "counter"); slices.Contains(acts, "closed") {
		t.Fatalf("A's chain says its upstream session %v", acts)
	}
}
