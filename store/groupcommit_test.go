package store

import (
	"context"
	"fmt"
	"sync"
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
