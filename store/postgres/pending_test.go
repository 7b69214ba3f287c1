package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// TestPendingCapAcrossReplicas: two replicas hold calls of one agent at
// once, each on its own session; exactly the cap's worth of approvals is
// created, the others are refused with ErrOverLimit. An expired approval
// still marked pending (its replica died) does not count, nor does
// another agent's.
func TestPendingCapAcrossReplicas(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "pending_cap", "a", "b")
	now := time.Now()
	for i, db := range r {
		if err := db.CreateSession(ctx, store.Session{ID: fmt.Sprintf("s%d", i), Agent: "ag"}); err != nil {
			t.Fatal(err)
		}
	}
	stale := store.Approval{ID: "stale", Session: "s0", Agent: "ag", Tool: "t", Created: now.Add(-2 * time.Hour), Expires: now.Add(-time.Hour)}
	if err := r[0].CreateApproval(ctx, stale); err != nil {
		t.Fatal(err)
	}
	const perAgent, tries = 3, 10
	var created, refused atomic.Int32
	var wg sync.WaitGroup
	for i, db := range r {
		for j := range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				a := store.Approval{ID: fmt.Sprintf("ap-%d-%d", i, j), Session: fmt.Sprintf("s%d", i), Agent: "ag", Tool: "t", Expires: now.Add(time.Hour)}
				switch err := db.CreateApprovalWithin(ctx, a, perAgent); {
				case err == nil:
					created.Add(1)
				case errors.Is(err, store.ErrOverLimit):
					refused.Add(1)
				default:
					t.Error(err)
				}
			}()
		}
	}
	wg.Wait()
	if created.Load() != perAgent || refused.Load() != 2*tries-perAgent {
		t.Fatalf("%d approvals created, %d refused; want %d and %d", created.Load(), refused.Load(), perAgent, 2*tries-perAgent)
	}
	other := store.Approval{ID: "other", Session: "s1", Agent: "ag2", Tool: "t", Expires: now.Add(time.Hour)}
	if err := r[1].CreateApprovalWithin(ctx, other, perAgent); err != nil {
		t.Fatalf("another agent's approval: %v", err)
	}
}
