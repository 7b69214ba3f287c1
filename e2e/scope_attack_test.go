package e2e

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/supervisor"
)

// readsStepUp holds every read of the knowledge base outside its public
// folder for a human. Its guard reads the URI as call.uri, not as an
// argument; no other rule stands behind it.
const readsStepUp = `
agent: support-bot
purpose: read the knowledge base
start: [read_kb]
anytime: [read_kb]
steps:
  - name: read_kb
    resource: "kb://files/*"
    guard: "call.uri startsWith 'kb://files/public/'"
    on_violation: step_up
`

// TestSessionApprovalCoversOnlyTheResourceApproved: an approver who allows
// a read of the refund policy "for the session" has not allowed a read of
// the secrets folder, which the same guard holds back.
func TestSessionApprovalCoversOnlyTheResourceApproved(t *testing.T) {
	w := routesWarden(t, readsStepUp, func(o *supervisor.Options) {
		o.Escalation.Approvals = true
		o.Escalation.ApprovalTimeout = time.Second
	})
	admin := routesAdminOf(t, w)
	c := connect(t, w.URL, supportToken)
	sid := c.GetSessionId()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		_, err := readResource(ctx, c, "kb://files/"+policiesPath)
		done <- err
	}()
	var held []store.Approval
	waitFor(t, 10*time.Second, "the read held for approval", func() bool {
		var err error
		held, err = w.Store.Approvals(t.Context(), store.ApprovalFilter{Session: sid, State: store.ApprovalPending})
		return err == nil && len(held) == 1
	})
	if st, body := admin.Do(t, http.MethodPost, "/v1/approvals/"+held[0].ID+"/decision",
		map[string]string{"decision": store.DecisionSession, "by": "alice"}, nil); st != http.StatusOK {
		t.Fatalf("decision: %d %s", st, body)
	}
	if err := <-done; err != nil {
		t.Fatalf("the approved read: %v", err)
	}
	// Nobody decides this one: it must not go through on alice's approval.
	text, err := readResource(ctx, c, "kb://files/"+secretPath)
	if err == nil || strings.Contains(text, secretText) {
		t.Fatalf("a read of %s went through on the approval of %s: %q, %v", secretPath, policiesPath, text, err)
	}
}
