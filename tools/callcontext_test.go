package tools

import (
	"context"
	"errors"
	"testing"
	"time"
)

type testKey struct{}

// TestCallContext: an upstream request's context finds its call, passes
// the agent request's values and cancellation (with its cause) through,
// and costs an allocation less than context.WithValue.
func TestCallContext(t *testing.T) {
	parent, cancel := context.WithCancelCause(context.WithValue(context.Background(), testKey{}, "v"))
	c := &call{ctx: parent}
	rctx, stop := context.WithTimeout(callContext{c}, time.Hour)
	defer stop()
	if got, _ := rctx.Value(callKey{}).(*call); got != c {
		t.Fatalf("call under callKey = %p, want %p", got, c)
	}
	if got := rctx.Value(testKey{}); got != "v" {
		t.Fatalf("agent's value = %v, want v", got)
	}
	if _, ok := rctx.Deadline(); !ok {
		t.Fatal("no deadline")
	}
	gone := errors.New("session killed")
	cancel(gone)
	<-rctx.Done()
	if !errors.Is(context.Cause(rctx), gone) {
		t.Fatalf("cause = %v, want %v", context.Cause(rctx), gone)
	}

	live, end := context.WithCancelCause(context.Background())
	defer end(nil)
	c = &call{ctx: live}
	ours := testing.AllocsPerRun(100, func() {
		_, stop := context.WithTimeout(callContext{c}, time.Hour)
		stop()
	})
	withValue := testing.AllocsPerRun(100, func() {
		_, stop := context.WithTimeout(context.WithValue(live, callKey{}, c), time.Hour)
		stop()
	})
	if ours >= withValue {
		t.Fatalf("%v allocations with callContext, %v with context.WithValue; want fewer", ours, withValue)
	}
}
