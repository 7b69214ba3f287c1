package store

import (
	"context"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestPendingIndexHoldsOnlyPending: the approvals_pending index names
// exactly the approvals still pending (the layout says so, and the expiry
// sweep walks it): a decision, an expiry at decision time and an explicit
// expiry each take their approval out of it.
func TestPendingIndexHoldsOnlyPending(t *testing.T) {
	t.Parallel()
	db, _ := openTest(t)
	ctx := context.Background()
	for _, id := range []string{"approved", "denied", "late", "dropped", "waiting"} {
		mustCreateApproval(t, db, testApproval(id, "s", t0))
	}
	if _, err := db.DecideApproval(ctx, "approved", DecisionOnce, "alice", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideApproval(ctx, "denied", DecisionDeny, "alice", t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := db.DecideApproval(ctx, "late", DecisionOnce, "alice", t0.Add(time.Hour)); err == nil {
		t.Fatal("a decision after Expires succeeded")
	}
	if _, err := db.ExpireApproval(ctx, "dropped", "the agent left"); err != nil {
		t.Fatal(err)
	}
	var pending []string
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketApprovalsPending).ForEach(func(k, _ []byte) error {
			pending = append(pending, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(pending, " "); got != "waiting" {
		t.Fatalf("pending index holds %q, want only waiting", got)
	}
}
