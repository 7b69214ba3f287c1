package e2e

import (
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// An approval "for the session" covers later calls of the step only where
// the arguments that the guard or rule behind it reads are as the approver
// saw them: approving a payment of 70 does not approve one of a million.

func TestSessionApprovalCoversOnlyWhatTheApproverSaw(t *testing.T) {
	// noteRule reads the arguments as a whole: an approval of a call it
	// held covers identical arguments only.
	noteRule := eval.Rule{Name: "notes", When: `call.tool == "pay" && "note" in args`, Action: warden.StepUp, Reason: "payments with a note need a human"}
	if err := noteRule.Compile(); err != nil {
		t.Fatal(err)
	}
	type call struct {
		args    map[string]any
		covered bool // allowed by the session approval, without a new one
	}
	cases := []struct {
		name     string
		approved map[string]any
		later    []call
	}{
		{
			name:     "guard reads amount",
			approved: map[string]any{"amount": 70, "to": "dave"},
			later: []call{
				{map[string]any{"amount": 70, "to": "erin"}, true}, // the guard does not read `to`
				{map[string]any{"amount": 1000000, "to": "dave"}, false},
				{map[string]any{"amount": 71, "to": "dave"}, false},
				{map[string]any{"to": "dave"}, false}, // amount absent: not what was seen (the guard then fails: deny)
				{map[string]any{"amount": 70, "to": "dave"}, true},
			},
		},
		{
			name:     "rule reads args whole",
			approved: map[string]any{"amount": 5, "to": "x", "note": "rent"},
			later: []call{
				{map[string]any{"note": "rent", "to": "x", "amount": 5}, true},
				{map[string]any{"amount": 5, "to": "y", "note": "rent"}, false},
				{map[string]any{"amount": 5, "to": "x", "note": "rent", "extra": 1}, false},
			},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l := newLadder(t, func(o *supervisor.Options) {
				o.Policies["ops"].Rules = []eval.Rule{noteRule}
			})
			c := connect(t, l.URL, opsToken)
			sid := c.GetSessionId()
			held := callAsync(c, "pay", tc.approved, nil)
			a := l.pending(t, sid, 1)[0]
			if st, body := l.decide(t, a.ID, store.DecisionSession); st != 200 {
				t.Fatalf("decide session: %d %s", st, body)
			}
			if r := await(t, held, 10*time.Second); r.err != nil || r.res.IsError {
				t.Fatalf("approved call: %+v %v", r.res, r.err)
			}
			paid := int64(1)
			for _, later := range tc.later {
				if later.covered {
					res := callTool(t, c, "pay", later.args)
					paid++
					if res.IsError || l.Up.paid.Load() != paid {
						t.Fatalf("pay %v after the session approval: %s (payments %d, want %d)", later.args, resultText(res), l.Up.paid.Load(), paid)
					}
					continue
				}
				refuseHeld(t, l, c, sid, later.args)
				if l.Up.paid.Load() != paid {
					t.Fatalf("pay %v reached the upstream under an approval of %v", later.args, tc.approved)
				}
			}
		})
	}
}

// refuseHeld makes a call that must not go ahead under the session's
// approval: it is either held for a new approval, which is then denied,
// or refused outright (a guard that fails denies).
func refuseHeld(t *testing.T, l *ladder, c *client.Client, sid string, args map[string]any) {
	t.Helper()
	held := callAsync(c, "pay", args, nil)
	var a store.Approval
	var answered *callResult
	waitFor(t, 10*time.Second, "a new approval or a refusal", func() bool {
		select {
		case r := <-held:
			answered = &r
			return true
		default:
		}
		list, err := l.Store.Approvals(t.Context(), store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		if err == nil && len(list) == 1 {
			a = list[0]
			return true
		}
		return false
	})
	if answered != nil {
		if answered.err != nil || !answered.res.IsError || !strings.Contains(resultText(answered.res), "(deny)") {
			t.Fatalf("pay %v went ahead without a new approval: %+v %v", args, answered.res, answered.err)
		}
		return
	}
	if st, body := l.decide(t, a.ID, store.DecisionDeny); st != 200 {
		t.Fatalf("deny: %d %s", st, body)
	}
	if r := await(t, held, 10*time.Second); r.err != nil || !r.res.IsError {
		t.Fatalf("denied call %v: %+v %v", args, r.res, r.err)
	}
}
