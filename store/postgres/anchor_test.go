package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/store/postgres"
)

// TestAnchorLockOneReplicaAtATime: of two replicas on one database, the
// first to ask holds the anchor's lock and keeps it; the other is refused
// until the first lets go, then takes it.
func TestAnchorLockOneReplicaAtATime(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	openFresh(t, base, "anchorlock")
	var locks [2]*postgres.AnchorLock
	for i := range locks {
		db, err := postgres.Open(ctx, dbURL(t, base, "anchorlock"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		locks[i] = db.AnchorLock()
		t.Cleanup(func() { _ = locks[i].Close(ctx) })
	}
	steps := []struct {
		lock        int
		held, taken bool
	}{
		{0, true, true},
		{1, false, false},
		{0, true, false}, // still held, not taken again
		{1, false, false},
	}
	for i, s := range steps {
		held, taken, err := locks[s.lock].Hold(ctx)
		if err != nil || held != s.held || taken != s.taken {
			t.Fatalf("step %d: replica %d Hold = %v, %v, %v; want %v, %v", i, s.lock, held, taken, err, s.held, s.taken)
		}
	}
	if err := locks[0].Close(ctx); err != nil {
		t.Fatal(err)
	}
	if held, taken, err := locks[1].Hold(ctx); err != nil || !held || !taken {
		t.Fatalf("after the holder let go: Hold = %v, %v, %v; want it taken", held, taken, err)
	}
	if held, _, err := locks[0].Hold(ctx); err != nil || held {
		t.Fatalf("the first replica again: Hold = %v, %v; want refused", held, err)
	}
}

// TestCheckHeadsOnPostgres: the heads a checkpoint lists are held while
// the chains are; an event rewritten below a head, a chain cut back with
// its row's head moved to match, and a session deleted are each reported.
func TestCheckHeadsOnPostgres(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	db := openFresh(t, base, "checkheads")
	twoSessions(t, db)
	heads, err := db.Heads(ctx)
	if err != nil || len(heads) != 3 { // s1, s2 and the system log
		t.Fatalf("Heads = %+v, %v", heads, err)
	}
	mid := store.Head{Session: "s2", Seq: 2}
	evs, err := db.Events(ctx, "s2")
	if err != nil {
		t.Fatal(err)
	}
	mid.Hash = evs[1].Hash
	if brk, err := db.CheckHeads(ctx, append(heads, mid)); err != nil || len(brk) != 0 {
		t.Fatalf("CheckHeads of the heads as they are: %+v, %v", brk, err)
	}
	execOn(t, base, "checkheads", moveBack)
	execOn(t, base, "checkheads", `DELETE FROM events WHERE session = 's1'; DELETE FROM sessions WHERE id = 's1'`)
	brk, err := db.CheckHeads(ctx, append(heads, mid, store.Head{Session: "s2", Seq: 1, Hash: "not-it"}))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"s1": "the session is gone", "s2@4": "its chain now ends at event 3: cut", "s2@1": "event 1 is not the one recorded then"}
	if len(brk) != len(want) {
		t.Fatalf("CheckHeads after tampering: %+v; want %d breaks", brk, len(want))
	}
	for _, b := range brk {
		key := b.Session
		if b.Session == "s2" {
			key += "@" + map[uint64]string{4: "4", 1: "1"}[b.Seq]
		}
		if w, ok := want[key]; !ok || !strings.Contains(b.Reason, w) {
			t.Errorf("break %+v; want one of %v", b, want)
		}
	}
}
