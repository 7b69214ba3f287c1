package postgres_test

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestSuspensionFencesCalls: once replica b has recorded an agent's
// suspension, replica a, which serves the agent's session and has heard
// nothing, can no longer record a call of it going ahead; what does not
// go ahead (a refusal, a result, a call refused over a rate) is still
// recorded, and a restored agent's calls go ahead again.
func TestSuspensionFencesCalls(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "suspension_fence", "a", "b")
	a, b := r[0], r[1]
	if err := a.CreateSession(ctx, store.Session{ID: "s1", Agent: "ag"}); err != nil {
		t.Fatal(err)
	}
	call := func(verdict string, data json.RawMessage) error {
		_, err := a.Append(ctx, "s1", store.Event{Kind: store.KindCall, CallID: "c", Tool: "pay", Verdict: verdict, Data: data})
		return err
	}
	if err := call("allow", nil); err != nil {
		t.Fatalf("a call before any suspension: %v", err)
	}
	if err := b.SetAgentSuspended(ctx, store.AgentRecord{Name: "ag", Suspended: true, Reason: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"allow", "flag", "throttle"} {
		if err := call(v, nil); !errors.Is(err, store.ErrAgentSuspended) {
			t.Fatalf("a %s call of the suspended agent: %v, want ErrAgentSuspended", v, err)
		}
	}
	for _, kind := range []string{store.KindResourceRead, store.KindPromptGet, store.KindCompletion} {
		if _, err := a.Append(ctx, "s1", store.Event{Kind: kind, Verdict: "allow"}); !errors.Is(err, store.ErrAgentSuspended) {
			t.Fatalf("an allowed %s of the suspended agent: %v, want ErrAgentSuspended", kind, err)
		}
	}
	// A held call goes ahead when its approval is recorded: that is
	// fenced too; an approval that lets nothing go is not.
	approval := func(verdict string) error {
		_, err := a.Append(ctx, "s1", store.Event{Kind: store.KindApproval, CallID: "h", Tool: "pay", Verdict: verdict})
		return err
	}
	if err := approval(store.ApprovalApproved); !errors.Is(err, store.ErrAgentSuspended) {
		t.Fatalf("the approval of a held call of the suspended agent: %v, want ErrAgentSuspended", err)
	}
	for _, v := range []string{store.ApprovalDenied, store.ApprovalExpired, "deny"} {
		if err := approval(v); err != nil {
			t.Fatalf("a %s approval of the suspended agent's call: %v", v, err)
		}
	}
	if err := call("deny", nil); err != nil {
		t.Fatalf("a refusal of the suspended agent's call: %v", err)
	}
	if err := call("throttle", json.RawMessage(`{"refused":true}`)); err != nil {
		t.Fatalf("a call refused over a rate: %v", err)
	}
	if _, err := a.Append(ctx, "s1", store.Event{Kind: store.KindResult, CallID: "c", Tool: "pay"}); err != nil {
		t.Fatalf("the result of a call that went ahead before: %v", err)
	}
	if err := b.SetAgentSuspended(ctx, store.AgentRecord{Name: "ag", Suspended: false}); err != nil {
		t.Fatal(err)
	}
	if err := call("allow", nil); err != nil {
		t.Fatalf("a call after the agent was restored: %v", err)
	}
}

// TestSuspensionWaitsForCallsBeingRecorded: calls of an agent that one
// replica records from several sessions while another suspends it
// neither deadlock with the suspension nor fail for any other reason, and
// every call after the suspension committed is refused.
func TestSuspensionWaitsForCallsBeingRecorded(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "suspension_order", "a", "b")
	a, b := r[0], r[1]
	const sessions = 8
	for i := range sessions {
		if err := a.CreateSession(ctx, store.Session{ID: "s" + string(rune('0'+i)), Agent: "ag"}); err != nil {
			t.Fatal(err)
		}
	}
	type outcome struct {
		seq uint64
		err error
	}
	var (
		mu       sync.Mutex
		outcomes []outcome
		wg       sync.WaitGroup
		stop     = make(chan struct{})
	)
	for i := range sessions {
		wg.Go(func() {
			id := "s" + string(rune('0'+i))
			for {
				select {
				case <-stop:
					return
				default:
				}
				ev, err := a.Append(ctx, id, store.Event{Kind: store.KindCall, Tool: "pay", Verdict: "allow"})
				mu.Lock()
				outcomes = append(outcomes, outcome{ev.Seq, err})
				n := len(outcomes)
				mu.Unlock()
				if err != nil || n > 400 {
					return
				}
			}
		})
	}
	if err := b.SetAgentSuspended(ctx, store.AgentRecord{Name: "ag", Suspended: true}); err != nil {
		t.Fatal(err)
	}
	// From here on every call is refused.
	for i := range sessions {
		if _, err := a.Append(ctx, "s"+string(rune('0'+i)), store.Event{Kind: store.KindCall, Tool: "pay", Verdict: "allow"}); !errors.Is(err, store.ErrAgentSuspended) {
			t.Fatalf("a call of session %d after the suspension committed: %v", i, err)
		}
	}
	close(stop)
	wg.Wait()
	for _, o := range outcomes {
		if o.err != nil && !errors.Is(o.err, store.ErrAgentSuspended) {
			t.Fatalf("an append failed otherwise: %v", o.err)
		}
	}
}
