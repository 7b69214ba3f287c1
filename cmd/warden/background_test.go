package main

import (
	"context"
	"sync/atomic"
	"testing"
)

// TestBackgroundStop checks that stop cancels background work and returns
// only once it has returned, and that work offered after stop never runs.
func TestBackgroundStop(t *testing.T) {
	b := newBackground()
	var finished atomic.Bool
	started := make(chan struct{})
	b.Go(func(ctx context.Context) {
		close(started)
		<-ctx.Done()
		finished.Store(true)
	})
	<-started
	b.stop()
	if !finished.Load() {
		t.Fatal("stop returned while background work still ran")
	}

	var late atomic.Bool
	b.Go(func(context.Context) { late.Store(true) })
	b.stop() // would wait for the late work, had it been started
	if late.Load() {
		t.Fatal("work offered after stop ran")
	}
}
