package supervisor

import (
	"context"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/client/transport"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/mark3labs/mcp-go/server"

	"github.com/warden-dev/warden/notify"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
	"github.com/warden-dev/warden/workflows"
)

// payWorkflow allows payments up to 10; a bigger one steps up.
const payWorkflow = `
agent: ops
on_violation: step_up
start: [pay]
anytime: [pay]
steps:
  - name: pay
    tool: pay
    guard: "args.amount <= 10"
    next: ["*"]
`

// payUpstream is a real MCP server over HTTP on 127.0.0.1 with one tool,
// pay, that runs pay before it answers.
func payUpstream(t *testing.T, pay func(context.Context)) string {
	t.Helper()
	s := server.NewMCPServer("ops", "1.0.0", server.WithToolCapabilities(true))
	s.AddTool(mcp.NewTool("pay", mcp.WithNumber("amount", mcp.Required())),
		func(ctx context.Context, _ mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			pay(ctx)
			return mcp.NewToolResultText("paid"), nil
		})
	h := server.NewStreamableHTTPServer(s)
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv.URL
}

// agentClient is an initialised mcp-go client of agent ops at url.
func agentClient(t *testing.T, url string, opts ...client.ClientOption) *client.Client {
	t.Helper()
	tr, err := transport.NewStreamableHTTP(url, transport.WithHTTPHeaders(map[string]string{"Authorization": "Bearer " + testAgentToken}))
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewClient(tr, opts...)
	t.Cleanup(func() { _ = c.Close() })
	if err := c.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	init := mcp.InitializeRequest{}
	init.Params.ProtocolVersion = protocolVersions[0]
	init.Params.ClientInfo = mcp.Implementation{Name: "test-agent", Version: "1"}
	if _, err := c.Initialize(t.Context(), init); err != nil {
		t.Fatal(err)
	}
	return c
}

// TestApprovalOutcomeOnRecordBeforeEffect: an approver's decision takes
// effect only once its outcome is on the session's record. When that
// record cannot be written (here: the bbolt store is closed under the
// supervisor after the decision was made), the held call is refused and
// says why, whatever the decision was, and nothing reaches the upstream.
func TestApprovalOutcomeOnRecordBeforeEffect(t *testing.T) {
	cases := []struct {
		state, decision string
	}{
		{store.ApprovalApproved, store.DecisionOnce},
		{store.ApprovalApproved, store.DecisionSession},
		{store.ApprovalDenied, store.DecisionDeny},
		{store.ApprovalDenied, store.DecisionDenyKill},
		{store.ApprovalExpired, ""},
	}
	for _, tc := range cases {
		t.Run(tc.state+"_"+tc.decision, func(t *testing.T) {
			var paid atomic.Int64
			h := holdPayment(t, func(context.Context) { paid.Add(1) }, nil)
			sup, db, a := h.sup, h.db, h.approval

			// The decision was made; then the store fails before its
			// outcome reaches the session's record.
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			a.State, a.Decision, a.DecidedBy = tc.state, tc.decision, "alice"
			sup.waiting.deliver(a)

			res := h.answer(t)
			if text := allText(res); !res.IsError || !strings.Contains(text, "could not be recorded") {
				t.Fatalf("the held call answered %q (error %v), want a refusal saying its approval could not be recorded", text, res.IsError)
			}
			if paid.Load() != 0 {
				t.Fatal("the call reached the upstream")
			}
		})
	}
}

// heldPayment is a payment of 500 that an agent asked for and warden
// holds for an approver.
type heldPayment struct {
	sup      *Supervisor
	db       *store.DB
	approval store.Approval           // the pending approval
	answered chan *mcp.CallToolResult // the agent's answer, once it has one
}

// holdPayment starts warden in front of an upstream whose pay runs pay,
// with approvals on (and tweak), connects agent ops with opts, and has it
// call pay with 500; it returns once warden holds the call.
func holdPayment(t *testing.T, pay func(context.Context), tweak func(*Options), opts ...client.ClientOption) *heldPayment {
	t.Helper()
	wf, err := workflows.Parse("pay.yaml", []byte(payWorkflow))
	if err != nil {
		t.Fatal(err)
	}
	held := make(heldCalls, 1)
	h := &heldPayment{answered: make(chan *mcp.CallToolResult, 1)}
	h.sup, h.db = startTestSupervisor(t, []tools.Spec{{Name: "ops", URL: payUpstream(t, pay)}}, func(o *Options) {
		o.Policies = map[string]*Policy{"ops": {Workflow: wf}}
		o.Escalation.Approvals = true
		o.Escalation.ApprovalTimeout = time.Minute
		o.Escalation.Notifier = held
		if tweak != nil {
			tweak(o)
		}
	})
	front := httptest.NewServer(h.sup.Handler())
	t.Cleanup(front.Close)
	c := agentClient(t, front.URL+"/mcp", opts...)
	go func() {
		req := mcp.CallToolRequest{}
		req.Params.Name = "pay"
		req.Params.Arguments = map[string]any{"amount": 500}
		res, err := c.CallTool(context.Background(), req)
		if err != nil {
			res = mcp.NewToolResultError("client error: " + err.Error())
		}
		h.answered <- res
	}()
	select {
	case h.approval = <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the call was never held")
	}
	return h
}

// answer waits for the agent's answer.
func (h *heldPayment) answer(t *testing.T) *mcp.CallToolResult {
	t.Helper()
	select {
	case res := <-h.answered:
		return res
	case <-time.After(30 * time.Second):
		t.Fatal("the held call was never answered")
		return nil
	}
}

// heldCalls is a Notifier that hands on each approval request.
type heldCalls chan store.Approval

func (h heldCalls) Go(_ context.Context, m notify.Message) bool {
	if m.Type == notify.TypeApprovalRequested {
		h <- *m.Approval
	}
	return true
}
