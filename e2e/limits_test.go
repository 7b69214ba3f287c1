package e2e

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// Limits against an authenticated agent that floods: its live sessions,
// how fast it opens them, how many of its calls wait for a human, and its
// budgets across sessions.

const otherToken = "other-token-0123456789abcdef"

// mustNotOpen checks that a real client cannot open a session as token,
// and that an initialize is answered 429 with a message containing why.
func mustNotOpen(t *testing.T, url, token, why string) {
	t.Helper()
	if c, err := dial(url, token); err == nil {
		_ = c.Close()
		t.Fatalf("a session opened beyond the limit (%s)", why)
	}
	st, body, hdr, err := ladderPost(nil, url, token, "", `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"raw","version":"1"}}}`, nil)
	if err != nil || st != http.StatusTooManyRequests || !strings.Contains(body, why) || hdr.Get("Retry-After") == "" {
		t.Fatalf("initialize beyond the limit: %d %s %v, want 429 saying %q with a Retry-After", st, body, err, why)
	}
}

func TestLiveSessionsPerAgentCapped(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) { o.Limits.SessionsPerAgent = 2 })
	first := connect(t, l.URL, opsToken)
	connect(t, l.URL, opsToken)
	mustNotOpen(t, l.URL, opsToken, `agent \"ops\" has 2 live sessions`)
	connect(t, l.URL, otherToken) // another agent is not affected

	// A session that ends makes room.
	if st, body := l.admin(t, http.MethodPost, "/v1/sessions/"+first.GetSessionId()+"/kill", map[string]string{"by": "alice"}, nil); st != 200 {
		t.Fatalf("kill: %d %s", st, body)
	}
	connect(t, l.URL, opsToken)
	mustNotOpen(t, l.URL, opsToken, `agent \"ops\" has 2 live sessions`)
	active, err := l.Store.Sessions(t.Context(), store.Filter{Agent: "ops", State: store.StateActive})
	if err != nil || len(active) != 2 {
		t.Fatalf("active sessions of ops on record = %d (%v), want 2", len(active), err)
	}
}

func TestInitializeRatePerAgent(t *testing.T) {
	// One a minute, two at once: the third opening in a row is refused,
	// whatever happened to the first two.
	l := newLadder(t, func(o *supervisor.Options) {
		o.Limits.Initialize = supervisor.Rate{PerMinute: 1, Burst: 2}
	})
	connect(t, l.URL, opsToken)
	connect(t, l.URL, opsToken)
	mustNotOpen(t, l.URL, opsToken, "opens sessions faster than its limit")
	connect(t, l.URL, otherToken) // per agent
	all, err := l.Store.Sessions(t.Context(), store.Filter{Agent: "ops"})
	if err != nil || len(all) != 2 {
		t.Fatalf("sessions of ops on record = %d (%v), want 2", len(all), err)
	}
}

func TestPendingApprovalsCapped(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Limits.PendingPerSession, o.Limits.PendingPerAgent = 2, 3
	})
	c1, c2 := connect(t, l.URL, opsToken), connect(t, l.URL, opsToken)
	s1, s2 := c1.GetSessionId(), c2.GetSessionId()
	held1 := []<-chan callResult{callAsync(c1, "pay", map[string]any{"amount": 50, "to": "a"}, nil)}
	l.pending(t, s1, 1)
	held1 = append(held1, callAsync(c1, "pay", map[string]any{"amount": 51, "to": "b"}, nil))
	l.pending(t, s1, 2)

	// Over the session's cap: refused at once, with no approval made.
	res := callTool(t, c1, "pay", map[string]any{"amount": 52, "to": "c"})
	if !res.IsError || !strings.Contains(resultText(res), "not held for an approver: the session already has 2 calls waiting") {
		t.Fatalf("a third held call in the session: %s", resultText(res))
	}
	// The agent's cap counts across sessions.
	held2 := callAsync(c2, "pay", map[string]any{"amount": 53, "to": "d"}, nil)
	pend2 := l.pending(t, s2, 1)
	res = callTool(t, c2, "pay", map[string]any{"amount": 54, "to": "e"})
	if !res.IsError || !strings.Contains(resultText(res), `agent "ops" already has 3 calls waiting`) {
		t.Fatalf("a fourth held call of the agent: %s", resultText(res))
	}
	all, err := l.Store.Approvals(t.Context(), store.ApprovalFilter{Agent: "ops"})
	if err != nil || len(all) != 3 {
		t.Fatalf("approvals = %d (%v), want the 3 held only", len(all), err)
	}
	_, tl := l.timeline(t, s1)
	if got := strings.Join(tl, " "); !strings.Contains(got, "call:pay:step_up signal:pay:deny") {
		t.Fatalf("the refusal is not on record: %s", got)
	}

	// A decision makes room again.
	if st, body := l.decide(t, pend2[0].ID, store.DecisionDeny); st != 200 {
		t.Fatalf("deny: %d %s", st, body)
	}
	await(t, held2, 10*time.Second)
	held2 = callAsync(c2, "pay", map[string]any{"amount": 55, "to": "f"}, nil)
	pend2 = l.pending(t, s2, 1)
	for _, id := range append(l.pending(t, s1, 2), pend2...) {
		if st, body := l.decide(t, id.ID, store.DecisionDeny); st != 200 {
			t.Fatalf("deny: %d %s", st, body)
		}
	}
	for _, h := range append(held1, held2) {
		await(t, h, 10*time.Second)
	}
	if l.Up.paid.Load() != 0 {
		t.Fatal("a payment reached the upstream")
	}
}

func TestAgentBudgetAcrossSessions(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Limits.Budgets = map[string][]supervisor.Budget{"ops": {
			{Tools: "ech*", Max: 2, Per: time.Hour},
			{Tools: "pay", Max: 1, Per: 24 * time.Hour},
		}}
	})
	c := connect(t, l.URL, opsToken)
	for i := range 2 {
		if res := callTool(t, c, "echo", map[string]any{"message": "hi"}); res.IsError {
			t.Fatalf("echo %d within the budget: %s", i, resultText(res))
		}
	}
	if res := callTool(t, c, "echo", map[string]any{"message": "hi"}); !res.IsError || !strings.Contains(resultText(res), "agent budget: 2 calls of ech* per 1h0m0s") {
		t.Fatalf("echo over the budget: %s", resultText(res))
	}
	// A new session does not reset the agent's budget.
	c2 := connect(t, l.URL, opsToken)
	if res := callTool(t, c2, "echo", map[string]any{"message": "hi"}); !res.IsError || !strings.Contains(resultText(res), "agent budget") {
		t.Fatalf("echo in a new session: %s", resultText(res))
	}
	_, tl := l.timeline(t, c2.GetSessionId())
	if got := strings.Join(tl, " "); got != "session_start call:echo:deny" {
		t.Fatalf("timeline of the new session: %s", got)
	}
	// Another agent has its own (none).
	if res := callTool(t, connect(t, l.URL, otherToken), "echo", map[string]any{"message": "hi"}); res.IsError {
		t.Fatalf("another agent's echo: %s", resultText(res))
	}

	// Only calls that go ahead count: a payment denied by its approver
	// leaves the budget whole.
	held := callAsync(c2, "pay", map[string]any{"amount": 500, "to": "x"}, nil)
	if st, body := l.decide(t, l.pending(t, c2.GetSessionId(), 1)[0].ID, store.DecisionDeny); st != 200 {
		t.Fatalf("deny: %d %s", st, body)
	}
	if r := await(t, held, 10*time.Second); r.err != nil || !r.res.IsError {
		t.Fatalf("denied payment: %+v %v", r.res, r.err)
	}
	if res := callTool(t, c2, "pay", map[string]any{"amount": 5, "to": "x"}); res.IsError {
		t.Fatalf("payment within the budget: %s", resultText(res))
	}
	if res := callTool(t, c, "pay", map[string]any{"amount": 5, "to": "x"}); !res.IsError || !strings.Contains(resultText(res), "agent budget: 1 calls of pay per 24h0m0s") {
		t.Fatalf("payment over the budget: %s", resultText(res))
	}
	if n := l.Up.paid.Load(); n != 1 {
		t.Fatalf("payments at the upstream = %d, want 1", n)
	}
}

func TestAgentBudgetSurvivesRestart(t *testing.T) {
	budget := func(o *supervisor.Options) {
		o.Limits.Budgets = map[string][]supervisor.Budget{"ops": {{Tools: "echo", Max: 2, Per: time.Hour}}}
	}
	db := filepath.Join(t.TempDir(), "warden.db")
	up, hook := newLadderUpstream(t), newHookReceiver(t)
	l := startLadder(t, db, up, hook, budget)
	c := connect(t, l.URL, opsToken)
	if res := callTool(t, c, "echo", map[string]any{"message": "one"}); res.IsError {
		t.Fatalf("echo within the budget: %s", resultText(res))
	}
	l.stop()

	l = startLadder(t, db, up, hook, budget)
	c = connect(t, l.URL, opsToken)
	if res := callTool(t, c, "echo", map[string]any{"message": "two"}); res.IsError {
		t.Fatalf("the second echo, within the budget: %s", resultText(res))
	}
	if res := callTool(t, c, "echo", map[string]any{"message": "three"}); !res.IsError || !strings.Contains(resultText(res), "agent budget: 2 calls of echo") {
		t.Fatalf("echo over the budget after a restart: %s", resultText(res))
	}
}

// TestThrottleRefusalsSpendNoBudgetAfterRestart: calls refused over the
// agent's rate never went to the upstream, so the budgets rebuilt from
// history at a restart must not count them (their events are recorded
// with verdict throttle, like calls that were only held back). The
// budget of 3 echoes an hour: one echo goes, two are refused over the
// rate; after a restart without the rate, two more go and the third is
// over the budget.
func TestThrottleRefusalsSpendNoBudgetAfterRestart(t *testing.T) {
	budget := func(o *supervisor.Options) {
		o.Limits.Budgets = map[string][]supervisor.Budget{"ops": {{Tools: "echo", Max: 3, Per: time.Hour}}}
	}
	db := filepath.Join(t.TempDir(), "warden.db")
	up, hook := newLadderUpstream(t), newHookReceiver(t)
	l := startLadder(t, db, up, hook, budget, func(o *supervisor.Options) {
		o.Escalation.AgentRate = supervisor.Rate{PerMinute: slowRate, Burst: 1}
		o.Escalation.MaxDelay = 100 * time.Millisecond
	})
	c := connect(t, l.URL, opsToken)
	for i, want := range []string{"", "rate limit exceeded", "rate limit exceeded"} {
		res := callTool(t, c, "echo", map[string]any{"message": strconv.Itoa(i)})
		if got := resultText(res); (want == "") == res.IsError || !strings.Contains(got, want) {
			t.Fatalf("echo %d: %q, want it to go (%q = go)", i, got, want)
		}
	}
	l.stop()

	l = startLadder(t, db, up, hook, budget)
	c = connect(t, l.URL, opsToken)
	for i, want := range []string{"", "", "agent budget: 3 calls of echo"} {
		res := callTool(t, c, "echo", map[string]any{"message": "after " + strconv.Itoa(i)})
		if got := resultText(res); (want == "") == res.IsError || !strings.Contains(got, want) {
			t.Fatalf("echo %d after the restart: %q, want %q (\"\" = go): the refused calls were counted", i, got, want)
		}
	}
}
