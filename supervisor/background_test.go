package supervisor

import (
	"context"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/mark3labs/mcp-go/client"
	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden/store"
)

// unanswered is a human at the agent's client who is asked to confirm a
// held call and never answers.
type unanswered struct{ asked chan struct{} }

func (u unanswered) Elicit(ctx context.Context, _ mcp.ElicitationRequest) (*mcp.ElicitationResult, error) {
	u.asked <- struct{}{}
	<-ctx.Done()
	return nil, ctx.Err()
}

// TestCloseJoinsBackgroundWork: a Supervisor's own goroutines end with
// it. Here the human at the client is asked to confirm a held call and
// never answers; an admin approves it meanwhile, and the call is still at
// the upstream when warden closes. Once Close returns, nothing of warden's
// asks the human any more.
func TestCloseJoinsBackgroundWork(t *testing.T) {
	reached, release := make(chan struct{}, 1), make(chan struct{})
	human := unanswered{asked: make(chan struct{}, 1)}
	h := holdPayment(t, func(ctx context.Context) {
		reached <- struct{}{}
		select {
		case <-release:
		case <-ctx.Done():
		}
	}, func(o *Options) { o.Escalation.Elicitation = true }, client.WithElicitationHandler(human))
	t.Cleanup(func() { close(release) }) // first of the cleanups: the upstream answers
	waitSignal(t, human.asked, "the human was never asked")

	if _, err := h.sup.decideApproval(t.Context(), h.approval.ID, store.DecisionOnce, "alice"); err != nil {
		t.Fatal(err)
	}
	waitSignal(t, reached, "the approved call never reached the upstream")
	if err := h.sup.Close(t.Context()); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "supervisor.(*Supervisor).elicit(") {
		t.Fatalf("warden still asks the human after Close:\n%s", stacks)
	}
}

func waitSignal(t *testing.T, ch <-chan struct{}, failure string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatal(failure)
	}
}
