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

// TestFailedLogWriteFailsClosed: when the sync leader cannot write the
// log, the append that needed it fails, later appends are refused rather
// than chained on from an unknown state, Close reports it, and what was
// acknowledged before is all there at the next Open.
func TestFailedLogWriteFailsClosed(t *testing.T) {
	ctx := context.Background()
	path := t.TempDir() + "/w.db"
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, "s1", "a", time.Now())
	kept := mustAppend(t, db, "s1", "acknowledged")
	// The log's file goes away under the journal: the next write fails.
	if err := db.j.wal.f.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Append(ctx, "s1", Event{Kind: KindCall, Tool: "lost"}); err == nil {
		t.Fatal("an append whose log write failed was acknowledged")
	}
	if _, err := db.Append(ctx, "s1", Event{Kind: KindCall, Tool: "after"}); err == nil {
		t.Fatal("an append after a failed log write was accepted")
	}
	if err := db.Close(); err == nil {
		t.Fatal("Close after a failed log write reported nothing")
	}

	db2, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	evs, err := db2.Events(ctx, "s1")
	if err != nil || len(evs) != 1 || evs[0].Hash != kept.Hash {
		t.Fatalf("events after reopening: %+v, %v; want only the acknowledged one", evs, err)
	}
	if rep, err := db2.Verify(ctx); err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify: %+v, %v", rep, err)
	}
}
