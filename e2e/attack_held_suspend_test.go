package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestAttackHeldCallOfSuspendedAgent: a call of ops is held for an
// approver; an operator suspends ops without killing its sessions, and an
// approver then approves the held call (an approval prepared before the
// suspension was heard of). The call must not reach the upstream: a
// suspended agent's calls do not go ahead, whatever was approved. The
// agent is told why, and the chain records the approval as refused.
func TestAttackHeldCallOfSuspendedAgent(t *testing.T) {
	l, sid, held, p := heldPayment(t)
	if st, body := l.admin(t, http.MethodPost, "/v1/agents/ops/suspend", map[string]any{"reason": "token leaked", "by": "bob"}, nil); st != http.StatusOK {
		t.Fatalf("suspend: %d %s", st, body)
	}
	if st, body := l.decide(t, p.ID, store.DecisionOnce); st != http.StatusOK {
		t.Fatalf("approve: %d %s", st, body)
	}
	r := await(t, held, 10*time.Second)
	if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), "suspended") {
		t.Fatalf("the approved call of a suspended agent answered %+v %v, want refused as suspended", r.res, r.err)
	}
	if n := l.Up.paid.Load(); n != 0 {
		t.Fatalf("%d payments reached the upstream", n)
	}
	evs, _ := l.timeline(t, sid)
	for _, e := range evs {
		if e.Kind == store.KindApproval && e.Verdict == store.ApprovalApproved {
			t.Fatalf("the chain records the approval as going ahead: %+v", e)
		}
	}
}

// heldPayment starts a ladder warden and a session of ops whose payment
// is held for an approver: its id, the call, and its approval.
func heldPayment(t *testing.T) (*ladder, string, <-chan callResult, store.Approval) {
	t.Helper()
	l := newLadder(t)
	c := connect(t, l.URL, opsToken)
	sid := c.GetSessionId()
	held := callAsync(c, "pay", map[string]any{"amount": 500, "to": "x"}, nil)
	return l, sid, held, l.pending(t, sid, 1)[0]
}

// TestAttackKilledWhileHeldStaysRefused: a held call's session is killed;
// an approver then tries to approve the call. The approval is refused
// (the kill denied it) and the call never reaches the upstream.
func TestAttackKilledWhileHeldStaysRefused(t *testing.T) {
	l, sid, held, p := heldPayment(t)
	if st, body := l.admin(t, http.MethodPost, "/v1/sessions/"+sid+"/kill", map[string]string{"reason": "stolen token", "by": "bob"}, nil); st != http.StatusOK {
		t.Fatalf("kill: %d %s", st, body)
	}
	if st, body := l.decide(t, p.ID, store.DecisionOnce); st == http.StatusOK {
		t.Fatalf("approving the held call of a killed session: %d %s, want refused", st, body)
	}
	if r := await(t, held, 10*time.Second); r.err == nil && !r.res.IsError {
		t.Fatalf("the held call of a killed session went ahead: %s", resultText(r.res))
	}
	if n := l.Up.paid.Load(); n != 0 {
		t.Fatalf("%d payments reached the upstream", n)
	}
}

// TestAttackReplicaHeldCallOfSuspendedAgent: r0 serves a session whose
// refund is held; the operator suspends the agent (not killing its
// sessions) through the admin API of r0 itself, or of r1, or kills the
// session through r1, and at once approves the refund through r1. r0 may
// not have heard of what r1 did yet: the shared store must refuse the
// approved call going ahead all the same. The refund never reaches the
// desk.
func TestAttackReplicaHeldCallOfSuspendedAgent(t *testing.T) {
	suspend := func(string) (string, any) {
		return "/v1/agents/desk/suspend", map[string]any{"reason": "token leaked", "by": "bob"}
	}
	kill := func(sid string) (string, any) {
		return "/v1/sessions/" + sid + "/kill", map[string]any{"reason": "token leaked", "by": "bob"}
	}
	for _, tc := range []struct {
		name string
		on   int
		act  func(sid string) (string, any)
		// want is in the held call's refusal; an approval after a kill
		// may also be refused itself (the kill denied it first).
		want     string
		approved bool
	}{
		{"suspended on r0", 0, suspend, "suspended", true},
		{"suspended on r1", 1, suspend, "suspended", true},
		{"killed on r1", 1, kill, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			desk := buildCommand(t, "./e2e/fixtures/deskserver")
			set := startReplicas(t, 2, fmt.Sprintf("stdio: {command: %q}", desk), refundsHeld)
			c := connect(t, set.procs[0].url, pgAgentToken)
			sid := c.GetSessionId()
			held := callAsync(c, "issue_refund", map[string]any{"customer_id": "C-1001", "iban": "DE00", "amount": 5}, nil)
			var p []store.Approval
			waitFor(t, 20*time.Second, "the refund held for an approver", func() bool {
				var err error
				p, err = set.db.Approvals(t.Context(), store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
				return err == nil && len(p) == 1
			})
			actor := testkit.Admin{Base: adminBase(t, set.procs[tc.on]), Token: pgAdminToken}
			approver := testkit.Admin{Base: adminBase(t, set.procs[1]), Token: pgAdminToken}
			path, body := tc.act(sid)
			if st, got := actor.Do(t, http.MethodPost, path, body, nil); st != http.StatusOK {
				t.Fatalf("%s: %d %s", path, st, got)
			}
			st, got := approver.Do(t, http.MethodPost, "/v1/approvals/"+p[0].ID+"/decision", map[string]string{"decision": store.DecisionOnce, "by": "alice"}, nil)
			if tc.approved && st != http.StatusOK {
				t.Fatalf("approve: %d %s", st, got)
			}
			r := await(t, held, 20*time.Second)
			if r.err == nil && (!r.res.IsError || !strings.Contains(resultText(r.res), tc.want)) {
				t.Fatalf("the approved refund answered %q, want refused (%q)", resultText(r.res), tc.want)
			}
			evs, err := set.db.Events(t.Context(), sid)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range evs {
				if e.Tool == "issue_refund" && (e.Kind == store.KindResult || e.Kind == store.KindApproval && e.Verdict == store.ApprovalApproved) {
					t.Fatalf("the refund went ahead: %+v", e)
				}
			}
		})
	}
}
