package supervisor

import (
	"context"
	"runtime"
	"testing"
	"time"
)

// TestAwaitIdle: a wait for a busy session ends when its last call is
// forgotten, and one for an idle session ends at once.
func TestAwaitIdle(t *testing.T) {
	s := &session{}
	s.awaitIdle(context.Background(), time.Hour) // idle: returns at once

	_, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	a, _ := s.track(cancel)
	b, _ := s.track(cancel)
	done := make(chan struct{})
	go func() {
		s.awaitIdle(context.Background(), time.Hour)
		close(done)
	}()
	// The waiter has made its channel once the session holds one.
	for waiting := false; !waiting; {
		s.mu.Lock()
		waiting = s.idle != nil
		s.mu.Unlock()
		if !waiting {
			select {
			case <-done:
				t.Fatal("the wait ended with two calls in flight")
			default:
				runtime.Gosched()
			}
		}
	}
	s.untrack(a)
	select {
	case <-done:
		t.Fatal("the wait ended with a call still in flight")
	default:
	}
	s.untrack(b)
	<-done // ends once the last call is forgotten (go test's timeout otherwise)
}

// TestTrackAllocations: tracking a call costs one allocation (its
// record); the idle channel is made only for a waiter, and untracking is
// a method, not a closure.
func TestTrackAllocations(t *testing.T) {
	s := &session{}
	_, cancel := context.WithCancelCause(context.Background())
	t.Cleanup(func() { cancel(nil) })
	f, _ := s.track(cancel) // the map is made once
	s.untrack(f)
	if n := testing.AllocsPerRun(100, func() {
		f, ok := s.track(cancel)
		if !ok {
			t.Fatal("not tracked")
		}
		s.untrack(f)
	}); n > 1 {
		t.Fatalf("%v allocations to track a call, want 1", n)
	}
}
