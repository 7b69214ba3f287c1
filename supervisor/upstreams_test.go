package supervisor

import (
	"context"
	"errors"
	"testing"
)

// TestChangedForWhileViewPublished reads a session's changed tools, as
// each of its calls does, while its view is published again and again,
// as its upstream sessions' list changes do. Run with -race.
func TestChangedForWhileViewPublished(t *testing.T) {
	s, _ := startTestSupervisor(t, nil, nil)
	sess := &session{key: "k", id: "k"}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for range 500 {
			s.publishView(sess, s.hub.Catalog())
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
			_ = s.changedFor(sess)
		}
	}
}

// TestUpstreamRequestEndsWithSession stops a session while one of its
// requests to the hub outside any call (a subscription) runs: the stop
// cancels it, as it cancels calls, before the session's upstream sessions
// are released, and a request made after is not made at all. The hub
// opens no upstream session for a cancelled request, so none is opened
// for an ended session.
func TestUpstreamRequestEndsWithSession(t *testing.T) {
	s, _ := startTestSupervisor(t, nil, nil)
	sess := &session{key: "k", id: "k"}
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- sess.upstreamRequest(t.Context(), func(ctx context.Context) error {
			close(started)
			<-ctx.Done()
			return ctx.Err()
		})
	}()
	<-started
	st, _ := sess.stop(false)
	s.release(t.Context(), sess, st, "test", errors.New("the session ended"))
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("a request running when its session stopped: %v, want it cancelled", err)
	}
	ran := false
	err := sess.upstreamRequest(t.Context(), func(context.Context) error { ran = true; return nil })
	if ran || !errors.Is(err, errSessionEnded) {
		t.Fatalf("a request of an ended session ran (%v) with error %v", ran, err)
	}
}
