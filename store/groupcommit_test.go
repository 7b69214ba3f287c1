package store

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFollowersShareTheNextSync: appends that arrive while a sync leader's
// fdatasync is in flight wait for it, and when it returns one of them leads
// a single next fdatasync that covers all of them: one sync per group, not
// one per waiter, and no follower left waiting for a sync nobody runs.
func TestFollowersShareTheNextSync(t *testing.T) {
	for _, followers := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("followers=%d", followers), func(t *testing.T) {
			db, _ := openTest(t)
			for i := range followers + 1 {
				mustCreate(t, db, fmt.Sprintf("s%d", i), "a", time.Now())
			}
			j := db.j
			entered, release := make(chan struct{}), make(chan struct{})
			var (
				mu    sync.Mutex
				calls int
			)
			real := j.syncLog
			j.syncLog = func() error {
				mu.Lock()
				calls++
				first := calls == 1
				mu.Unlock()
				if first {
					close(entered)
					<-release
				}
				return real()
			}
			before := j.syncs.Load()

			errs := make(chan error, followers+1)
			appendTo := func(id string) {
				_, err := db.Append(context.Background(), id, Event{Kind: KindCall, Tool: "t"})
				errs <- err
			}
			go appendTo("s0") // the leader: its fdatasync is held
			<-entered
			j.mu.Lock()
			leaderLSN := j.put
			j.mu.Unlock()
			for i := 1; i <= followers; i++ {
				go appendTo(fmt.Sprintf("s%d", i))
			}
			// Every follower has framed its event while the sync is in flight.
			waitFor(t, func() bool {
				j.mu.Lock()
				defer j.mu.Unlock()
				return j.put == leaderLSN+uint64(followers)
			})
			close(release)
			for range followers + 1 {
				select {
				case err := <-errs:
					if err != nil {
						t.Fatalf("append: %v", err)
					}
				case <-time.After(30 * time.Second):
					t.Fatal("an append still waits after the sync it waited for returned")
				}
			}
			if got := j.syncs.Load() - before; got != 2 {
				t.Fatalf("%d fdatasyncs for a leader and %d followers that arrived during its sync, want 2", got, followers)
			}
			mu.Lock()
			defer mu.Unlock()
			if calls != 2 {
				t.Fatalf("the log was synced %d times, want 2", calls)
			}
		})
	}
}

// waitFor waits, up to a generous deadline, until cond holds.
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition never held")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestFollowersAreWokenOnce: of the appends that arrive while a sync is in
// flight (none of them covered by it), only the first is woken when it
// ends, to lead the next; the others sleep until that next sync has made
// them durable. Each is woken once, not once by each sync that ends
// meanwhile (2·followers - 1 wake-ups, before).
func TestFollowersAreWokenOnce(t *testing.T) {
	for _, followers := range []int{1, 2, 8} {
		t.Run(fmt.Sprintf("followers=%d", followers), func(t *testing.T) {
			db, _ := openTest(t)
			real := db.j.syncLog
			var before uint64
			errs := followersOfAHeldSync(t, db, followers, real, func() { before = db.j.wakes.Load() })
			for _, err := range errs {
				if err != nil {
					t.Fatalf("append: %v", err)
				}
			}
			if got := db.j.wakes.Load() - before; got != uint64(followers) {
				t.Fatalf("%d wake-ups for %d followers of one sync, want one each", got, followers)
			}
		})
	}
}

// TestWaitersOfTheNextSyncLearnOfAFailure: appends waiting for the sync
// after a running one are not left waiting when the journal fails and no
// sync will ever run again (fail closed, and no hang).
func TestWaitersOfTheNextSyncLearnOfAFailure(t *testing.T) {
	db, err := Open(filepath.Join(t.TempDir(), "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	broken := errors.New("disk gone")
	errs := followersOfAHeldSync(t, db, 4, func() error { return broken }, func() {})
	for _, err := range errs {
		if !errors.Is(err, broken) {
			t.Fatalf("append = %v, want the failed sync's error", err)
		}
	}
	if err := db.Close(); !errors.Is(err, broken) {
		t.Fatalf("Close after a failed sync = %v, want its error", err)
	}
}

// followersOfAHeldSync appends to a session s0 and holds its fdatasync
// until followers more appends (to s1, s2, ...) all wait for a sync to
// end; then it calls released and lets the sync go on. From then on the
// log's syncs run syncLog. It returns each append's error, failing t if one
// is not back within a generous deadline.
func followersOfAHeldSync(t *testing.T, db *DB, followers int, syncLog func() error, released func()) []error {
	t.Helper()
	for i := range followers + 1 {
		mustCreate(t, db, fmt.Sprintf("s%d", i), "a", time.Now())
	}
	j := db.j
	entered, release := make(chan struct{}), make(chan struct{})
	var held atomic.Bool
	j.syncLog = func() error {
		if held.CompareAndSwap(false, true) {
			close(entered)
			<-release
		}
		return syncLog()
	}
	errs := make(chan error, followers+1)
	appendTo := func(id string) {
		_, err := db.Append(context.Background(), id, Event{Kind: KindCall, Tool: "t"})
		errs <- err
	}
	go appendTo("s0")
	<-entered
	for i := 1; i <= followers; i++ {
		go appendTo(fmt.Sprintf("s%d", i))
	}
	waitFor(t, func() bool {
		j.mu.Lock()
		defer j.mu.Unlock()
		return j.waiting == followers
	})
	released()
	close(release)
	out := make([]error, 0, followers+1)
	for range followers + 1 {
		select {
		case err := <-errs:
			out = append(out, err)
		case <-time.After(30 * time.Second):
			t.Fatal("an append still waits after the syncs it waited for returned")
		}
	}
	return out
}
