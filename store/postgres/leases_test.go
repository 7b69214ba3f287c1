package postgres_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// replicas opens one store per name on a fresh database name of base's
// cluster, each as the replica of that name.
func replicas(t *testing.T, base, name string, ids ...string) []*postgres.DB {
	t.Helper()
	openFresh(t, base, name)
	out := make([]*postgres.DB, len(ids))
	for i, id := range ids {
		db, err := postgres.Open(context.Background(), dbURL(t, base, name), postgres.WithReplica(id))
		if err != nil {
			t.Fatalf("open replica %s: %v", id, err)
		}
		t.Cleanup(func() { _ = db.Close() })
		out[i] = db
	}
	return out
}

// TestLeaseFencing: replica B takes over A's session; from then on A's
// appends are refused at the store, B's go on, and the chain is one line.
func TestLeaseFencing(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "fencing", "a", "b")
	a, b := r[0], r[1]
	if err := a.CreateSession(ctx, store.Session{ID: "s1", Agent: "ag"}); err != nil {
		t.Fatal(err)
	}
	appendOK := func(db *postgres.DB, tool string) {
		t.Helper()
		if _, err := db.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: tool}); err != nil {
			t.Fatalf("append %s: %v", tool, err)
		}
	}
	refused := func(db *postgres.DB, tool string) {
		t.Helper()
		if _, err := db.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: tool}); !errors.Is(err, postgres.ErrLeaseLost) {
			t.Fatalf("append %s by a replica without the lease: %v, want ErrLeaseLost", tool, err)
		}
	}
	appendOK(a, "a1")
	refused(b, "b0") // B never took the lease
	if epoch, err := b.Acquire(ctx, "s1"); err != nil || epoch != 2 {
		t.Fatalf("B takes over: epoch %d, %v; want 2", epoch, err)
	}
	if held, err := a.Holds(ctx, "s1"); err != nil || held {
		t.Fatalf("A still holds the lease after B took it: %v, %v", held, err)
	}
	refused(a, "a2")
	appendOK(b, "b1")
	if _, err := a.Acquire(ctx, "s1"); err != nil { // and back again
		t.Fatal(err)
	}
	refused(b, "b2")
	appendOK(a, "a3")

	evs, err := a.Events(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	var tools []string
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || (i > 0 && ev.Prev != evs[i-1].Hash) {
			t.Fatalf("event %d: seq %d, prev %x: the chain is not one line", i, ev.Seq, ev.Prev)
		}
		tools = append(tools, ev.Tool)
	}
	if want := "a1 b1 a3"; strings.Join(tools, " ") != want {
		t.Fatalf("chain holds %q, want %q", strings.Join(tools, " "), want)
	}
	if rep, err := a.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}

// TestLeaseTakeoverDuringAppends: A appends without pause while B takes
// the session over. Every append A had acknowledged is in the chain B
// reads right after its takeover (so B resumes from all of it), A is
// refused from then on, and the chain verifies.
func TestLeaseTakeoverDuringAppends(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "takeover", "a", "b")
	a, b := r[0], r[1]
	if err := a.CreateSession(ctx, store.Session{ID: "s1", Agent: "ag"}); err != nil {
		t.Fatal(err)
	}
	const atTakeover = 20
	started := make(chan struct{})
	acked := make(chan store.Event, 1000)
	done := make(chan error, 1)
	go func() {
		defer close(acked)
		for i := 0; i < 1000; i++ {
			ev, err := a.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: "a"})
			if err != nil {
				done <- err
				return
			}
			acked <- ev
			if i == atTakeover {
				close(started)
			}
		}
		done <- nil
	}()
	<-started
	if _, err := b.Acquire(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	seen, err := b.Events(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if err := <-done; !errors.Is(err, postgres.ErrLeaseLost) {
		t.Fatalf("A's appends after the takeover: %v, want ErrLeaseLost", err)
	}
	n := 0
	for ev := range acked {
		n++
		if ev.Seq > uint64(len(seen)) || seen[ev.Seq-1].Hash != ev.Hash {
			t.Fatalf("A's acknowledged event %d is not in the chain B read after taking over (%d events)", ev.Seq, len(seen))
		}
	}
	if n <= atTakeover {
		t.Fatalf("A had %d appends acknowledged, want more than %d", n, atTakeover)
	}
	if _, err := b.Append(ctx, "s1", store.Event{Kind: store.KindCall, Tool: "b"}); err != nil {
		t.Fatal(err)
	}
	if rep, err := b.Verify(ctx); err != nil || len(rep.Broken) != 0 || rep.Events != len(seen)+2 { // +1: s1's start on the session log
		t.Fatalf("Verify: %+v, %v; want %d events, none broken", rep, err, len(seen)+2)
	}
}
