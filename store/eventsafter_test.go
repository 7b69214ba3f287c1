package store

import (
	"context"
	"errors"
	"path/filepath"
	"slices"
	"testing"
)

func TestEventsAfter(t *testing.T) {
	ctx := context.Background()
	db, err := Open(filepath.Join(t.TempDir(), "w.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if err := db.CreateSession(ctx, Session{ID: "s", Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	if err := db.CreateSession(ctx, Session{ID: "empty", Agent: "a"}); err != nil {
		t.Fatal(err)
	}
	for range 5 {
		if _, err := db.Append(ctx, "s", Event{Kind: KindCall, Tool: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		id       string
		after    uint64
		limit    int
		wantSeqs []uint64
	}{
		{"s", 0, 10, []uint64{1, 2, 3, 4, 5}},
		{"s", 2, 10, []uint64{3, 4, 5}},
		{"s", 2, 2, []uint64{3, 4}},
		{"s", 5, 10, nil},
		{"s", 9, 10, nil},
		{"empty", 0, 10, nil},
		{SystemLog, 0, 10, nil},
	}
	for _, tt := range tests {
		evs, err := db.EventsAfter(ctx, tt.id, tt.after, tt.limit)
		if err != nil {
			t.Fatalf("%s after %d: %v", tt.id, tt.after, err)
		}
		var seqs []uint64
		for _, e := range evs {
			seqs = append(seqs, e.Seq)
		}
		if !slices.Equal(seqs, tt.wantSeqs) {
			t.Fatalf("%s after %d limit %d: seqs %v, want %v", tt.id, tt.after, tt.limit, seqs, tt.wantSeqs)
		}
	}
	if _, err := db.EventsAfter(ctx, "nope", 0, 10); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing session: %v, want ErrNotFound", err)
	}
	if _, err := db.EventsAfter(ctx, "s", 0, 0); err == nil {
		t.Fatal("limit 0 accepted")
	}
}
