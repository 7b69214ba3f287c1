package store

import (
	"context"
	"strings"
	"testing"
	"time"
)

// TestAbortedFirstWriteRetriesTheRest: when the op that fails mid-write
// is the first of its round, the others are still retried without it and
// commit, rather than failing with it.
func TestAbortedFirstWriteRetriesTheRest(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	release, held := holdWriter(t, db, "s1")
	ctx := context.Background()
	huge, fine := make(chan error, 1), make(chan error, 1)
	go func() { huge <- db.CreateSession(ctx, Session{ID: "x" + string(make([]byte, 40000))}) }()
	waitPending(t, db, 1)
	go func() { fine <- db.CreateSession(ctx, Session{ID: "s2", Agent: "a", Started: time.Now()}) }()
	waitPending(t, db, 2)
	release()
	if err := <-held; err != nil {
		t.Fatal(err)
	}
	if err := <-huge; err == nil || !strings.Contains(err.Error(), "key too large") {
		t.Errorf("oversized create: %v, want key too large", err)
	}
	if err := <-fine; err != nil {
		t.Errorf("the create after it: %v", err)
	}
	if _, err := db.Session(ctx, "s2"); err != nil {
		t.Errorf("s2 was not stored: %v", err)
	}
}
