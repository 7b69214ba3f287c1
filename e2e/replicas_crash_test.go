package e2e

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestReplicaKilledMidCalls: an mcp-go session through HAProxy over three
// replicas makes calls without pause, with a refund held for an approver,
// while the replica that serves the session (the others forward to it)
// is killed with SIGKILL. Every call the agent saw answered has its call
// and its result on the chain; the held approval can still be decided
// through a surviving replica; the session goes on through the other two,
// which take it over (the time from the kill to the next answered call is
// logged); the chain verifies.
func TestReplicaKilledMidCalls(t *testing.T) {
	desk := buildCommand(t, "./e2e/fixtures/deskserver")
	set := startReplicas(t, 3, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld)
	ctx := context.Background()
	c := dialBalanced(t, set.url)
	sid := c.GetSessionId()
	held := callAsync(c, "issue_refund", map[string]any{"customer_id": "C-1001", "iban": "DE00", "amount": 5}, nil)
	var pending []store.Approval
	waitFor(t, 20*time.Second, "a pending approval", func() bool {
		var err error
		pending, err = set.db.Approvals(ctx, store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(pending) == 1
	})

	const calls, killAt = 30, 8
	var acked []string
	failedAfter := 0
	owner, _ := set.lease(t, sid)
	var killed, wentOn time.Time
	for i := 0; i < calls; i++ {
		if i == killAt {
			set.replica(t, owner).kill(t)
			killed = time.Now()
		}
		msg := fmt.Sprintf("call %d", i)
		cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
		res, err := c.CallTool(cctx, echoRequest(msg))
		cancel()
		switch {
		case err == nil && !res.IsError && resultText(res) == msg:
			acked = append(acked, msg)
			if i >= killAt && wentOn.IsZero() {
				wentOn = time.Now()
			}
		case i >= killAt+3:
			failedAfter++
			t.Logf("call %d after the kill: %v %v", i, err, res)
		}
	}
	if failedAfter > 0 {
		t.Fatalf("%d calls failed once the killed replica was out of the way: the session did not go on", failedAfter)
	}
	if now, _ := set.lease(t, sid); now == owner {
		t.Fatalf("the session is still leased to %s, which was killed", owner)
	}
	t.Logf("the session went on %v after its replica %s was killed", wentOn.Sub(killed).Round(time.Millisecond), owner)

	// The held approval is decided through a surviving replica.
	survivor := set.procs[0]
	if owner == "r0" {
		survivor = set.procs[1]
	}
	admin := testkit.Admin{Base: adminBase(t, survivor), Token: pgAdminToken}
	if st, body := admin.Do(t, http.MethodPost, "/v1/approvals/"+pending[0].ID+"/decision", map[string]string{"decision": store.DecisionDeny, "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("decision after the crash: %d %s", st, body)
	}
	if a, err := set.db.Approval(ctx, pending[0].ID); err != nil || a.State == store.ApprovalPending {
		t.Fatalf("the approval after its decision: %+v %v", a, err)
	}
	if r := await(t, held, 40*time.Second); r.err == nil && !r.res.IsError {
		t.Fatalf("the denied refund went ahead: %s", resultText(r.res))
	}

	evs, err := set.db.Events(ctx, sid)
	if err != nil {
		t.Fatal(err)
	}
	results := map[string]bool{}
	for _, e := range evs {
		if e.Kind == store.KindResult {
			results[e.CallID] = true
		}
	}
	for _, msg := range acked {
		found := false
		for _, e := range evs {
			if e.Kind == store.KindCall && e.Tool == "echo" && strings.Contains(string(e.Args), fmt.Sprintf("%q", msg)) && results[e.CallID] {
				found = true
			}
		}
		if !found {
			t.Errorf("%q was answered, but the chain lacks its call or its result", msg)
		}
	}
	t.Logf("%d of %d calls answered across the kill of %s", len(acked), calls, owner)
	if len(acked) < calls-3 {
		t.Errorf("only %d of %d calls were answered", len(acked), calls)
	}
	if rep, err := set.db.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// echoRequest is a call of echo with message.
func echoRequest(message string) mcp.CallToolRequest {
	req := mcp.CallToolRequest{}
	req.Params.Name = "echo"
	req.Params.Arguments = map[string]any{"message": message}
	return req
}
