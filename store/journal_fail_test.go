package store

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// TestCopyFailureWakesEveryWaiter: when copying the log into bbolt fails,
// every reader waiting for the copy and every later append gets the
// failure; none is left waiting, and the log keeps the events for the next
// start.
func TestCopyFailureWakesEveryWaiter(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	mustAppend(t, db, "s1", "copied")
	if err := db.j.flush(ctx); err != nil {
		t.Fatal(err)
	}

	// Hold bbolt's write lock so the copier cannot copy, and make its copy
	// fail once it can: the session record it must move on is gone.
	hold, release := make(chan struct{}), make(chan struct{})
	go func() {
		_ = db.bolt.Update(func(tx *bolt.Tx) error {
			close(hold)
			<-release
			return tx.Bucket(bucketSessions).Delete([]byte("s1"))
		})
	}()
	<-hold
	mustAppend(t, db, "s1", "logged, not copied")

	const readers = 8
	errs := make(chan error, readers)
	var started sync.WaitGroup
	for range readers {
		started.Add(1)
		go func() {
			started.Done()
			_, err := db.Events(ctx, "s1")
			errs <- err
		}()
	}
	started.Wait()
	close(release)
	for range readers {
		if err := <-errs; err == nil || !errors.Is(err, ErrNotFound) {
			t.Fatalf("a reader waiting for the copy got %v; want the copy's failure", err)
		}
	}
	if _, err := db.Append(ctx, "s1", Event{Kind: KindCall, Tool: "after"}); err == nil {
		t.Fatal("an append after the copy failed was accepted")
	}
	if err := db.Close(); err == nil {
		t.Fatal("Close after a failed copy reported nothing")
	}
}
