package e2e

import (
	"context"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// humanAtClient answers warden's elicitation as the user at the agent's
// client would.
type humanAtClient struct {
	approve bool
	asked   atomic.Int32
	message atomic.Value
}

func (h *humanAtClient) Elicit(_ context.Context, req mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	h.asked.Add(1)
	h.message.Store(req.Params.Message)
	return &mcp.ElicitationResult{ElicitationResponse: mcp.ElicitationResponse{
		Action:  mcp.ElicitationResponseActionAccept,
		Content: map[string]any{"approve": h.approve},
	}}, nil
}

func TestElicitationDecidesHeldCall(t *testing.T) {
	for _, approve := range []bool{true, false} {
		name := map[bool]string{true: "approved", false: "refused"}[approve]
		t.Run(name, func(t *testing.T) {
			l := newLadder(t, func(o *supervisor.Options) { o.Escalation.Elicitation = true })
			human := &humanAtClient{approve: approve}
			c := connect(t, l.URL, opsToken, client.WithElicitationHandler(human))
			sid := c.GetSessionId()
			held := callAsync(c, "pay", map[string]any{"amount": 75, "to": "frank"}, nil)
			r := await(t, held, 15*time.Second)
			if r.err != nil {
				t.Fatal(r.err)
			}
			if human.asked.Load() != 1 {
				t.Fatalf("the user was asked %d times, want once", human.asked.Load())
			}
			if msg, _ := human.message.Load().(string); !strings.Contains(msg, "pay") || !strings.Contains(msg, "guard") {
				t.Fatalf("elicitation message %q does not show the call and why", msg)
			}
			list, err := l.Store.Approvals(t.Context(), store.ApprovalFilter{Session: sid})
			if err != nil || len(list) != 1 {
				t.Fatalf("approvals = %v (%v)", list, err)
			}
			a := list[0]
			if !strings.HasPrefix(a.DecidedBy, "elicitation: the user at e2e-agent") {
				t.Fatalf("decided by %q, want the elicitation", a.DecidedBy)
			}
			if approve {
				if r.res.IsError || resultText(r.res) != "paid 75 to frank" || a.Decision != store.DecisionOnce || l.Up.paid.Load() != 1 {
					t.Fatalf("call approved by elicitation: %s; approval %+v", resultText(r.res), a)
				}
			} else {
				if !r.res.IsError || a.Decision != store.DecisionDeny || l.Up.paid.Load() != 0 {
					t.Fatalf("call refused by elicitation: %s; approval %+v", resultText(r.res), a)
				}
			}
			// The webhook went out too: both channels were open.
			l.Hook.requested(t, sid)
		})
	}
}

// A session that changed hands is never asked to approve its own calls,
// even when warden's response to the change is only to flag it (the
// default): the client is who is in question then. The held call waits
// for another approver, here for none, and expires.
func TestElicitationNotAskedAfterChangeOfHands(t *testing.T) {
	l := newLadder(t, func(o *supervisor.Options) {
		o.Escalation.Elicitation = true
		o.Escalation.ApprovalTimeout = 3 * time.Second
	})
	human := &humanAtClient{approve: true}
	var ua atomic.Value
	ua.Store("agent/1.0")
	c, err := testkit.Dial(l.URL, opsToken, "e2e-agent", []transport.StreamableHTTPCOption{
		transport.WithContinuousListening(),
		transport.WithHTTPHeaderFunc(func(context.Context) map[string]string {
			return map[string]string{"User-Agent": ua.Load().(string)}
		}),
	}, client.WithElicitationHandler(human))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	sid := c.GetSessionId()
	if res := callTool(t, c, "echo", map[string]any{"message": "hi"}); res.IsError {
		t.Fatalf("echo: %s", resultText(res))
	}

	ua.Store("curl/8.0") // the token is now used from another client
	r := await(t, callAsync(c, "pay", map[string]any{"amount": 75, "to": "frank"}, nil), 20*time.Second)
	if r.err != nil || !r.res.IsError || !strings.Contains(resultText(r.res), "no approver decided") {
		t.Fatalf("call held after a change of hands: %+v %v, want it to expire undecided", r.res, r.err)
	}
	if n := human.asked.Load(); n != 0 {
		t.Fatalf("the client of a session that changed hands was asked %d times to approve its own call", n)
	}
	if l.Up.paid.Load() != 0 {
		t.Fatal("the payment reached the upstream")
	}
	list, err := l.Store.Approvals(t.Context(), store.ApprovalFilter{Session: sid})
	if err != nil || len(list) != 1 || list[0].State != store.ApprovalExpired {
		t.Fatalf("approvals = %+v (%v), want one, expired", list, err)
	}
	evs, _ := l.timeline(t, sid)
	flagged := false
	for _, e := range evs {
		flagged = flagged || (e.Kind == store.KindSignal && e.Verdict == "flag" && strings.Contains(strings.Join(e.Reasons, ";"), "user agent changed"))
	}
	if !flagged {
		t.Fatal("the change of hands was not recorded as a flag")
	}
}
