package store

import (
	"context"
	"encoding/json"
	"testing"
	"time"
)

// TestNaiveModeKeepsTheChain: the benchmarks' naive baseline must do the
// same work as the group-committing writer (numbered, linked events, the
// session's data), or the comparison is not fair.
func TestNaiveModeKeepsTheChain(t *testing.T) {
	db, _ := openTest(t, func(o *options) { o.naive = true })
	ctx := context.Background()
	mustCreate(t, db, "s1", "a", time.Now())
	if ev := mustAppend(t, db, "s1", "one"); ev.Seq != 1 || ev.Hash == "" {
		t.Fatalf("Append returned %+v, want the stored event 1", ev)
	}
	if _, err := db.AppendWithData(ctx, "s1", Event{Kind: KindCall, Tool: "two"}, json.RawMessage(`{"step":"b"}`)); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, db, "s1", "three")
	evs, err := db.Events(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	prev := ""
	for i, ev := range evs {
		if ev.Seq != uint64(i+1) || ev.Prev != prev {
			t.Fatalf("event %d: seq %d prev %.8s, want seq %d prev %.8s", i, ev.Seq, ev.Prev, i+1, prev)
		}
		prev = ev.Hash
	}
	s, err := db.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 3 || s.LastSeq != 3 || s.Head != prev || string(s.Data) != `{"step":"b"}` {
		t.Fatalf("%d events; session %+v; want 3 events, head at the last, data {\"step\":\"b\"}", len(evs), s)
	}
	if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify = %+v, %v; want an intact chain", rep, err)
	}
}
