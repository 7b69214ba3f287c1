package e2e

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
)

// Kill: the session ends for good, its in-flight calls are cancelled at
// the upstream, its held approvals are denied, and a restart does not
// revive it.

const toolsList = `{"jsonrpc":"2.0","id":7,"method":"tools/list"}`

func TestKillCancelsInFlightCall(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	inflight := callAsync(c, "block", nil, nil)
	select {
	case <-l.Up.started:
	case <-time.After(10 * time.Second):
		t.Fatal("block never reached the upstream")
	}
	st, body := l.admin(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", map[string]string{"reason": "exfiltration suspected", "by": "alice"}, nil)
	if st != 200 {
		t.Fatalf("kill: %d %s", st, body)
	}
	select {
	case <-l.Up.cancelled:
	case <-time.After(10 * time.Second):
		t.Fatal("the upstream never saw the in-flight call cancelled")
	}
	// The killed call tells the agent, and the record, that warden
	// cancelled it and why: it was not the agent.
	const why = "cancelled by warden: the session was killed by alice: exfiltration suspected"
	r := await(t, inflight, 10*time.Second)
	if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), why) {
		t.Fatalf("the killed call answered %+v %v, want an error saying %q", r.res, r.err, why)
	}
	if st, body, _, err := ladderPost(nil, l.URL, opsToken, sid, toolsList, nil); err != nil || st != http.StatusNotFound {
		t.Fatalf("request with the killed session id: %d %s %v, want 404", st, body, err)
	}
	if _, err := c.ListTools(t.Context(), mcp.ListToolsRequest{}); err == nil {
		t.Fatal("the client still works on a killed session")
	}
	rec, err := l.Store.Session(t.Context(), sid)
	if err != nil || rec.State != store.StateKilled || rec.Reason != "exfiltration suspected" {
		t.Fatalf("session record = %+v (%v)", rec, err)
	}
	evs, tl := l.timeline(t, sid)
	// The cancelled call's result may be recorded before or after the
	// kill; it must say the call did not complete.
	if got := strings.Join(tl, " "); !strings.HasPrefix(got, "session_start call:block:allow") || !strings.Contains(got, "kill") || !strings.HasSuffix(got, "session_end") {
		t.Fatalf("timeline %s", got)
	}
	kills, results := 0, 0
	for _, e := range evs {
		switch {
		case e.Kind == store.KindKill:
			kills++
			if e.Reasons[0] != "exfiltration suspected" || !strings.Contains(string(e.Data), "alice") {
				t.Fatalf("kill event = %+v", e)
			}
		case e.Kind == store.KindResult:
			results++
			if e.OK || !strings.Contains(e.Error, why) {
				t.Fatalf("the cancelled call's result is recorded as %+v, want it to say %q", e, why)
			}
		}
	}
	if kills != 1 || results != 1 {
		t.Fatalf("%d kill events and %d results, want 1 of each", kills, results)
	}
	l.Hook.wait(t, 10*time.Second, "session.killed", func(m notify.Message) bool {
		return m.Type == notify.TypeSessionKilled && m.Session == sid && strings.Contains(strings.Join(m.Reasons, ";"), "exfiltration")
	})
	// A second kill of a killed session is harmless; an unknown id is 404.
	if st, _ := l.admin(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", nil, nil); st != 200 {
		t.Fatalf("second kill: %d", st)
	}
	if st, _ := l.admin(t, http.MethodPost, "/v1/sessions/nope/kill", nil, nil); st != http.StatusNotFound {
		t.Fatalf("kill of an unknown session: %d, want 404", st)
	}
}

func TestKillAgentEndsEverySession(t *testing.T) {
	l := newLadder(t)
	c1 := connect(t, l.URL, opsToken)
	c2 := connect(t, l.URL, opsToken)
	other := connect(t, l.URL, "other-token-0123456789abcdef")
	held := callAsync(c1, "pay", map[string]any{"amount": 500, "to": "x"}, nil)
	a := l.pending(t, c1.GetSessionId(), 1)[0]

	var out struct{ Killed int }
	if st, body := l.admin(t, http.MethodPost, "/v1/agents/ops/kill", map[string]string{"by": "alice"}, &out); st != 200 || out.Killed != 2 {
		t.Fatalf("kill agent: %d %s, want 2 killed", st, body)
	}
	r := await(t, held, 10*time.Second)
	if r.err == nil && !r.res.IsError {
		t.Fatalf("a held call of a killed session went ahead: %s", resultText(r.res))
	}
	got, _ := l.Store.Approval(t.Context(), a.ID)
	if got.State != store.ApprovalDenied || got.DecidedBy != "warden: session killed" {
		t.Fatalf("held approval after the kill = %+v, want denied by the kill", got)
	}
	for _, sid := range []string{c1.GetSessionId(), c2.GetSessionId()} {
		if st, _, _, _ := ladderPost(nil, l.URL, opsToken, sid, toolsList, nil); st != http.StatusNotFound {
			t.Fatalf("session %s after the agent kill: %d, want 404", sid, st)
		}
		if rec, _ := l.Store.Session(t.Context(), sid); rec.State != store.StateKilled {
			t.Fatalf("session %s recorded %s, want killed", sid, rec.State)
		}
	}
	if res := callTool(t, other, "echo", map[string]any{"message": "still here"}); res.IsError {
		t.Fatalf("another agent's session was hit: %s", resultText(res))
	}
	if l.Up.paid.Load() != 0 {
		t.Fatal("the held payment reached the upstream")
	}
	if st, _ := l.admin(t, http.MethodPost, "/v1/agents/nobody/kill", nil, nil); st != http.StatusNotFound {
		t.Fatalf("kill of an unknown agent: %d, want 404", st)
	}
}

func TestKillSurvivesRestart(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	up, hook := newLadderUpstream(t), newHookReceiver(t)
	l := startLadder(t, dbPath, up, hook)
	killed := connect(t, l.URL, opsToken)
	live := connect(t, l.URL, opsToken)
	ksid, lsid := killed.GetSessionId(), live.GetSessionId()
	callTool(t, killed, "echo", map[string]any{"message": "a"})
	if st, body := l.admin(t, http.MethodPost, "/v1/sessions/"+ksid+"/kill", map[string]string{"reason": "stolen token", "by": "alice"}, nil); st != 200 {
		t.Fatalf("kill: %d %s", st, body)
	}
	l.stop()

	l2 := startLadder(t, dbPath, up, hook)
	rec, err := l2.Store.Session(t.Context(), ksid)
	if err != nil || rec.State != store.StateKilled || rec.Reason != "stolen token" {
		t.Fatalf("killed session after restart = %+v (%v), want killed for the same reason", rec, err)
	}
	// The session that was live at the stop can resume; the killed one
	// cannot.
	if rec, _ := l2.Store.Session(t.Context(), lsid); rec.State != store.StateActive {
		t.Fatalf("the session that was live at the stop is %q after restart, want active (resumable)", rec.State)
	}
	if st, body, _, err := ladderPost(nil, l2.URL, opsToken, ksid, toolsList, nil); err != nil || st != http.StatusNotFound {
		t.Fatalf("killed session %s on the new warden: %d %s %v, want 404", ksid, st, body, err)
	}
	if st, body, _, err := ladderPost(nil, l2.URL, opsToken, lsid, toolsList, nil); err != nil || st != http.StatusOK {
		t.Fatalf("live session %s on the new warden: %d %s %v, want it resumed (200)", lsid, st, body, err)
	}
	// A kill by id of the resumed session ends it for good.
	if st, body := l2.admin(t, http.MethodPost, "/v1/sessions/"+lsid+"/kill", map[string]string{"reason": "after the fact", "by": "bob"}, nil); st != 200 {
		t.Fatalf("kill of the resumed session: %d %s", st, body)
	}
	if st, _, _, err := ladderPost(nil, l2.URL, opsToken, lsid, toolsList, nil); err != nil || st != http.StatusNotFound {
		t.Fatalf("killed resumed session answered %d %v, want 404", st, err)
	}
	if rec, _ := l2.Store.Session(t.Context(), lsid); rec.State != store.StateKilled {
		t.Fatalf("session killed on record = %q", rec.State)
	}
	rep, err := l2.Store.Verify(t.Context())
	if err != nil || len(rep.Broken) != 0 {
		t.Fatalf("verify after restart: %+v %v", rep, err)
	}
	// New sessions work.
	c := connect(t, l2.URL, opsToken)
	if res := callTool(t, c, "echo", map[string]any{"message": "new"}); res.IsError {
		t.Fatalf("new session after restart: %s", resultText(res))
	}
}

func TestPendingApprovalExpiresAtRestart(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "warden.db")
	up, hook := newLadderUpstream(t), newHookReceiver(t)
	l := startLadder(t, dbPath, up, hook)
	c, err := dial(l.URL, opsToken)
	if err != nil {
		t.Fatal(err)
	}
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 500, "to": "x"}, nil)
	m := hook.requested(t, sid)
	l.stop()
	if r := await(t, held, 15*time.Second); r.err == nil && !r.res.IsError {
		t.Fatalf("a call held by a stopped warden went ahead: %s", resultText(r.res))
	}
	_ = c.Close()

	l2 := startLadder(t, dbPath, up, hook)
	a, err := l2.Store.Approval(t.Context(), m.Approval.ID)
	if err != nil || a.State != store.ApprovalExpired || a.Note == "" {
		t.Fatalf("approval left pending = %+v (%v), want expired with a note", a, err)
	}
	st, body := l2.decide(t, a.ID, store.DecisionOnce)
	if st != http.StatusGone || !strings.Contains(body, "expired") {
		t.Fatalf("decision on it: %d %s, want 410", st, body)
	}
	// Its link is still within its expiry, and refused as gone.
	if st, body := postLink(t, strings.Replace(m.Links[store.DecisionOnce], l.Admin, l2.Admin, 1)); st != http.StatusGone {
		t.Fatalf("link of it: %d %s, want 410", st, body)
	}
	if up.paid.Load() != 0 {
		t.Fatal("the payment reached the upstream")
	}
}
