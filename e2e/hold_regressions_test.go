package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
	"github.com/warden-dev/warden/workflows"
)

// TestCancelledHoldExpiresOnlyItsOwnApproval: an agent that gives up on
// one held call must not expire the approvals other sessions wait on.
func TestCancelledHoldExpiresOnlyItsOwnApproval(t *testing.T) {
	l := newLadder(t)
	a, b := connect(t, l.URL, opsToken), connect(t, l.URL, opsToken)
	heldB := callAsync(b, "pay", map[string]any{"amount": 99, "to": "b"}, nil)
	pb := l.pending(t, b.GetSessionId(), 1)[0]

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		req := mcp.CallToolRequest{}
		req.Params.Name = "pay"
		req.Params.Arguments = map[string]any{"amount": 50, "to": "a"}
		_, _ = a.CallTool(ctx, req)
	}()
	pa := l.pending(t, a.GetSessionId(), 1)[0]
	cancel()
	<-done
	waitFor(t, 10*time.Second, "the cancelled call's approval to close", func() bool {
		got, err := l.Store.Approval(context.Background(), pa.ID)
		return err == nil && got.State == store.ApprovalExpired
	})
	if got, _ := l.Store.Approval(context.Background(), pb.ID); got.State != store.ApprovalPending {
		t.Fatalf("another session's approval became %s when an unrelated call was cancelled", got.State)
	}
	if st, body := l.decide(t, pb.ID, store.DecisionOnce); st != http.StatusOK {
		t.Fatalf("deciding the other approval: %d %s", st, body)
	}
	if r := await(t, heldB, 10*time.Second); r.err != nil || r.res.IsError {
		t.Fatalf("the other held call after approval: %+v %v", r.res, r.err)
	}
}

// TestClosedSessionReleasesItsHeldCall: a client that ends its session
// (DELETE) while a call is held: the call is not forwarded later, even if
// someone approves it, and its approval is closed.
func TestClosedSessionReleasesItsHeldCall(t *testing.T) {
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 70, "to": "x"}, nil)
	p := l.pending(t, sid, 1)[0]
	req, _ := http.NewRequest(http.MethodDelete, l.URL, nil)
	req.Header.Set("Authorization", "Bearer "+opsToken)
	req.Header.Set("Mcp-Session-Id", sid)
	req.Header.Set("Mcp-Protocol-Version", "2025-11-25")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if r := await(t, held, 10*time.Second); r.err == nil && !r.res.IsError {
		t.Fatalf("the held call of a closed session went ahead: %s", resultText(r.res))
	}
	got, err := l.Store.Approval(context.Background(), p.ID)
	if err != nil || got.State == store.ApprovalPending || got.State == store.ApprovalApproved {
		t.Fatalf("approval of a closed session's call = %+v (%v)", got, err)
	}
	if n := l.Up.paid.Load(); n != 0 {
		t.Fatalf("%d payments reached the upstream", n)
	}
}

// sessionWideWorkflow holds payments over 10 (a guard) and allows at most
// three payments per session (a budget that steps up).
const sessionWideWorkflow = `
agent: ops
on_violation: step_up
start: [echo]
anytime: [echo, pay, block]
steps:
  - name: echo
    tool: echo
    next: ["*"]
  - name: pay
    tool: pay
    guard: "args.amount <= 10"
    budget: 3
    next: ["*"]
  - name: block
    tool: block
    next: ["*"]
`

// TestSessionApprovalKeepsBudgets: allowing a step for the session waives
// the step-up the approver saw (the guard), not a budget that steps up
// later for another reason.
func TestSessionApprovalKeepsBudgets(t *testing.T) {
	wf, err := workflows.Parse("wf.yaml", []byte(sessionWideWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	l := newLadder(t, func(o *supervisor.Options) {
		o.Policies = map[string]*supervisor.Policy{"ops": {Workflow: wf}}
	})
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 50, "to": "x"}, nil)
	p := l.pending(t, sid, 1)[0]
	if st, body := l.decide(t, p.ID, store.DecisionSession); st != http.StatusOK {
		t.Fatalf("approve for the session: %d %s", st, body)
	}
	if r := await(t, held, 10*time.Second); r.err != nil || r.res.IsError {
		t.Fatalf("approved call: %+v %v", r.res, r.err)
	}
	// Two more payments of the amount the approver saw go through on the
	// session approval (budget 3).
	for i := 0; i < 2; i++ {
		if res := callTool(t, c, "pay", map[string]any{"amount": 50, "to": "x"}); res.IsError {
			t.Fatalf("payment %d under the session approval: %s", i+2, resultText(res))
		}
	}
	// The fourth is over the budget: a new reason, so it is held again.
	fourth := callAsync(c, "pay", map[string]any{"amount": 50, "to": "x"}, nil)
	q := l.pending(t, sid, 1)[0]
	if !strings.Contains(strings.Join(q.Reasons, " "), "budget") {
		t.Fatalf("the fourth payment is held for %v, want the budget", q.Reasons)
	}
	if st, _ := l.decide(t, q.ID, store.DecisionDeny); st != http.StatusOK {
		t.Fatal("deny")
	}
	if r := await(t, fourth, 10*time.Second); r.err == nil && !r.res.IsError {
		t.Fatal("a payment over the budget went through on the session approval")
	}
	if n := l.Up.paid.Load(); n != 3 {
		t.Fatalf("%d payments reached the upstream, want 3", n)
	}
}
