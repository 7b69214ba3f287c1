package e2e

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/mark3labs/mcp-go/client"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// sharedLimits gives the desk agent, on every replica, a rate of 5 calls
// and a budget of 3 echoes, and 3 session openings, each in a window of
// hours (no window ends during the test), with no wait for a token.
const sharedLimits = `    budgets: [{tools: echo, max: 3, per: 10000h}]
throttle: {agent: {per_minute: 0.01, burst: 5}, max_delay: 100ms}
limits: {initialize: {per_minute: 0.01, burst: 3}}
`

// TestReplicasShareLimitsAndBudgets: three replicas count one agent's
// rate, budget and session openings in PostgreSQL, so the limits hold for
// the agent, not per replica. The agent opens three sessions, one served
// by each replica (a session's requests go to the replica that serves
// it, wherever they land), and makes eight echoes in turn through them:
// exactly 3 go ahead (the budget), the next 2 are refused by the budget,
// the last 3 by the rate (5 in its window); further session openings
// are refused (3 in the window). Each replica alone sees at most three of
// the echoes and one opening, and would allow them all.
func TestReplicasShareLimitsAndBudgets(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld, replicaOpts{extra: sharedLimits})
	var cs []*client.Client
	for _, p := range set.procs {
		cs = append(cs, dialBalanced(t, p.url))
	}
	var allowed, overBudget, overRate []int
	for i := 0; i < 8; i++ {
		msg := fmt.Sprintf("call %d", i)
		res := callTool(t, cs[i%len(cs)], "echo", map[string]any{"message": msg})
		text := resultText(res)
		switch {
		case !res.IsError && text == msg:
			allowed = append(allowed, i)
		case strings.Contains(text, "warden refused this call (deny): agent budget: 3 calls of echo per 10000h0m0s, across sessions and replicas, are used"):
			overBudget = append(overBudget, i)
		case strings.Contains(text, "warden refused this call (throttle): rate limit exceeded (across replicas); retry after"):
			overRate = append(overRate, i)
		default:
			t.Fatalf("echo %d: unexpected answer %q", i, text)
		}
	}
	if fmt.Sprint(allowed, overBudget, overRate) != "[0 1 2] [3 4] [5 6 7]" {
		t.Fatalf("went ahead %v, over the budget %v, over the rate %v; want [0 1 2] [3 4] [5 6 7]", allowed, overBudget, overRate)
	}
	results := 0
	owners := map[string]bool{}
	for _, c := range cs {
		evs, err := set.db.Events(t.Context(), c.GetSessionId())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range evs {
			if e.Kind == store.KindResult && e.Tool == "echo" && e.OK {
				results++
			}
		}
		owner, _ := set.lease(t, c.GetSessionId())
		owners[owner] = true
	}
	if results != 3 {
		t.Fatalf("%d echoes reached the upstream, want 3", results)
	}
	if len(owners) != 3 {
		t.Fatalf("the sessions were served by %v, want one by each replica", owners)
	}

	// Session openings: the three above were the agent's limit.
	for i := 0; i < 3; i++ {
		if c, err := testkit.Dial(set.url, pgAgentToken, "e2e-agent", nil); err == nil {
			_ = c.Close()
			t.Fatalf("opening %d beyond the three went through: the limit is per replica", i+1)
		}
	}
}

// TestReplicasSharePendingApprovals: an agent may have one call waiting
// for an approver. A call held through r0 takes it; a call of another
// session through r1 is refused at once, not held (r1 alone holds none).
func TestReplicasSharePendingApprovals(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld,
		replicaOpts{extra: "limits: {pending_approvals_per_agent: 1}\n"})
	refund := map[string]any{"customer_id": "C-1001", "iban": "DE00", "amount": 5}
	pending := func() int {
		t.Helper()
		as, err := set.db.Approvals(t.Context(), store.ApprovalFilter{Agent: "desk", State: store.ApprovalPending})
		if err != nil {
			t.Fatal(err)
		}
		return len(as)
	}
	first := dialBalanced(t, set.procs[0].url)
	held := callAsync(first, "issue_refund", refund, nil)
	waitFor(t, 20*time.Second, "the first refund held for an approver", func() bool { return pending() == 1 })

	second := dialBalanced(t, set.procs[1].url)
	got := callAsync(second, "issue_refund", refund, nil)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for done := false; !done; {
		select {
		case r := <-got:
			if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), "it was not held for an approver: agent \"desk\" already has as many calls waiting for an approver as its limit, across replicas") {
				t.Fatalf("the second refund: %v %v, want refused over the agent's pending approvals", r.err, r.res)
			}
			done = true
		case <-held:
			t.Fatal("the held refund ended")
		case <-tick.C:
			if n := pending(); n > 1 {
				t.Fatalf("%d approvals pending: the second refund was held too", n)
			}
		}
	}
	if n := pending(); n != 1 {
		t.Fatalf("%d approvals pending, want 1", n)
	}
}

// TestReplicaRefusesWhenLimitsCannotBeCounted: with the shared counters
// gone from the database (a fault of the store, nothing else broken), a
// replica refuses the calls and session openings those limits cover,
// saying why, and forwards none of them.
func TestReplicaRefusesWhenLimitsCannotBeCounted(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicasWith(t, 1, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld, replicaOpts{extra: sharedLimits})
	c := dialBalanced(t, set.url)
	conn, err := pgx.Connect(t.Context(), os.Getenv("WARDEN_PG_URL"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(t.Context(), "ALTER TABLE counters RENAME TO counters_gone"); err != nil {
		t.Fatal(err)
	}
	res := callTool(t, c, "echo", map[string]any{"message": "hello"})
	if !res.IsError || !strings.Contains(resultText(res), "the limit is shared by the replicas and could not be counted in the store") {
		t.Fatalf("echo with the counters gone: %q, want refused, saying the limit could not be counted", resultText(res))
	}
	mustNotOpen(t, set.url, pgAgentToken, "the rate of its openings: the limit is shared by the replicas and could not be counted in the store")
	evs, err := set.db.Events(t.Context(), c.GetSessionId())
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if e.Kind == store.KindResult && e.OK {
			t.Fatalf("a call reached the upstream: %+v", e)
		}
	}
}
