package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestSessionWritesFenced: every write that belongs to a session, not
// only appends, is refused to the replica that lost the session's lease,
// in the write's own transaction, and allowed to the one that took it.
func TestSessionWritesFenced(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "fenced_writes", "a", "b")
	a, b := r[0], r[1]
	if err := a.CreateSession(ctx, store.Session{ID: "s1", Agent: "ag"}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Acquire(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	writes := []struct {
		name  string
		write func(db *postgres.DB, id string) error
	}{
		{"UpdateSession", func(db *postgres.DB, id string) error {
			return db.UpdateSession(ctx, "s1", func(s *store.Session) error {
				s.State, s.Reason = store.StateEnded, "ended by "+id
				return nil
			})
		}},
		{"CreateApproval", func(db *postgres.DB, id string) error {
			return db.CreateApproval(ctx, store.Approval{ID: "ap-" + id, Session: "s1", Agent: "ag", Tool: "t",
				Expires: time.Now().Add(time.Hour)})
		}},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			if err := w.write(a, "a"); !errors.Is(err, postgres.ErrLeaseLost) {
				t.Fatalf("%s by the replica that lost the lease: %v, want ErrLeaseLost", w.name, err)
			}
			if err := w.write(b, "b"); err != nil {
				t.Fatalf("%s by the replica that holds the lease: %v", w.name, err)
			}
		})
	}
	rec, err := b.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if rec.Reason != "ended by b" {
		t.Fatalf("session reason %q, want the holder's", rec.Reason)
	}
	if _, err := b.Approval(ctx, "ap-a"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the refused approval: %v, want ErrNotFound", err)
	}
}
