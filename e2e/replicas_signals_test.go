package e2e

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestReplicasDecideAndKillAcrossReplicas: a session served by replica
// r1; an approval decided through r0's admin API releases the call held
// on r1, and a kill issued on r0 cancels the call in flight on r1 (the
// upstream sees the cancellation) and ends the session there. The kill's
// propagation is measured over several sessions and logged.
func TestReplicasDecideAndKillAcrossReplicas(t *testing.T) {
	up := newLadderUpstream(t)
	set := startReplicas(t, 3, fmt.Sprintf("http: {url: %q}", up.URL), strings.Replace(ladderWorkflow, "agent: ops", "agent: desk", 1))
	admin := testkit.Admin{Base: adminBase(t, set.procs[0]), Token: pgAdminToken}
	ctx := context.Background()

	c := connect(t, set.procs[1].url, pgAgentToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 50, "to": "x"}, nil)
	var pending []store.Approval
	waitFor(t, 20*time.Second, "a pending approval", func() bool {
		var err error
		pending, err = set.db.Approvals(ctx, store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(pending) == 1
	})
	if st, body := admin.Do(t, http.MethodPost, "/v1/approvals/"+pending[0].ID+"/decision", map[string]string{"decision": store.DecisionOnce, "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("decision on r0: %d %s", st, body)
	}
	if r := await(t, held, 20*time.Second); r.err != nil || r.res.IsError || up.paid.Load() != 1 {
		t.Fatalf("the call held on r1 after r0 approved it: %+v %v (paid %d)", r.res, r.err, up.paid.Load())
	}

	// Two replicas race to decide one approval: exactly one wins, and the
	// held call does what the winner said.
	admin2 := testkit.Admin{Base: adminBase(t, set.procs[2]), Token: pgAdminToken}
	held = callAsync(c, "pay", map[string]any{"amount": 60, "to": "y"}, nil)
	waitFor(t, 20*time.Second, "a second pending approval", func() bool {
		var err error
		pending, err = set.db.Approvals(ctx, store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(pending) == 1
	})
	type outcome struct {
		decision string
		status   int
	}
	race := make(chan outcome, 2)
	for _, d := range []struct {
		admin    testkit.Admin
		decision string
	}{{admin, store.DecisionOnce}, {admin2, store.DecisionDeny}} {
		go func() {
			st, _ := d.admin.Do(t, http.MethodPost, "/v1/approvals/"+pending[0].ID+"/decision", map[string]string{"decision": d.decision, "by": "racer"}, nil)
			race <- outcome{d.decision, st}
		}()
	}
	var winners []string
	for range 2 {
		if o := <-race; o.status == http.StatusOK {
			winners = append(winners, o.decision)
		}
	}
	if len(winners) != 1 {
		t.Fatalf("two replicas deciding one approval: %d won (%v), want exactly one", len(winners), winners)
	}
	r := await(t, held, 20*time.Second)
	if paid := up.paid.Load() == 2; paid != (winners[0] == store.DecisionOnce) || (r.err == nil && !r.res.IsError) != paid {
		t.Fatalf("%s won, but the held call ended %+v %v with %d payments", winners[0], r.res, r.err, up.paid.Load())
	}

	const trials = 10
	var took []time.Duration
	for i := 0; i < trials; i++ {
		c := connect(t, set.procs[1].url, pgAgentToken)
		sid := c.GetSessionId()
		inflight := callAsync(c, "block", nil, nil)
		testkit.Recv(t, up.started, 20*time.Second, "the block call at the upstream")
		start := time.Now()
		if st, body := admin.Do(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", map[string]string{"reason": "trial", "by": "alice"}, nil); st != http.StatusOK {
			t.Fatalf("kill on r0: %d %s", st, body)
		}
		testkit.Recv(t, up.cancelled, 20*time.Second, "the upstream's block call cancelled by the kill on r0")
		took = append(took, time.Since(start))
		if r := await(t, inflight, 20*time.Second); r.err == nil && !r.res.IsError {
			t.Fatalf("the call in flight on r1 succeeded after the kill: %s", resultText(r.res))
		}
		if st, body, _, err := ladderPost(nil, set.procs[1].url, pgAgentToken, sid, toolsList, nil); err != nil || st != http.StatusNotFound {
			t.Fatalf("the killed session on r1: %d %s %v, want 404", st, body, err)
		}
		if s, err := set.db.Session(ctx, sid); err != nil || s.State != store.StateKilled {
			t.Fatalf("the killed session on record: %+v %v", s, err)
		}
	}
	sort.Slice(took, func(i, j int) bool { return took[i] < took[j] })
	t.Logf("kill on r0 until the upstream saw r1's call cancelled, %d trials: min %v, median %v, p90 %v, max %v",
		trials, took[0], took[trials/2], took[trials*9/10], took[trials-1])
}

// TestReplicaTakeoverClosesOpenCalls: a call is in flight on r0 when r0
// is killed with SIGKILL, and the session's next request lands on r1. r1
// cannot reach r0 (whose heartbeat has not expired yet), so it takes the
// session over at once and records the call's outcome as unknown (r0 can
// no longer record it): the chain has no call left open; the session
// goes on through r1. While r0 lived, r1 forwarded to it instead
// (TestReplicasStreamOnOneCallsOnOthers).
func TestReplicaTakeoverClosesOpenCalls(t *testing.T) {
	up := newLadderUpstream(t)
	set := startReplicas(t, 2, fmt.Sprintf("http: {url: %q}", up.URL), strings.Replace(ladderWorkflow, "agent: ops", "agent: desk", 1))
	c := connect(t, set.procs[0].url, pgAgentToken)
	sid := c.GetSessionId()
	callAsync(c, "block", nil, nil)
	testkit.Recv(t, up.started, 20*time.Second, "the block call at the upstream")
	set.procs[0].kill(t)

	c1 := rejoin(t, set.procs[1].url, pgAgentToken, sid)
	if got := resultText(callTool(t, c1, "echo", map[string]any{"message": "on r1"})); got != "echo: on r1" {
		t.Fatalf("echo on r1: %q", got)
	}
	evs, err := set.db.Events(context.Background(), sid)
	if err != nil {
		t.Fatal(err)
	}
	var block string
	closed := false
	for _, e := range evs {
		switch {
		case e.Kind == store.KindCall && e.Tool == "block":
			block = e.CallID
		case e.Kind == store.KindResult && e.CallID == block && block != "":
			closed = strings.Contains(e.Error, "took the session over")
		}
	}
	if block == "" || !closed {
		t.Fatalf("the block call in flight on r0 (%q) has no result saying r1 took the session over", block)
	}
}
