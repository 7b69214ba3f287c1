package testkit

import (
	"testing"
	"time"
)

// tick is how often WaitFor polls: short, so that a test waits little
// longer than the condition takes.
const tick = 10 * time.Millisecond

// WaitFor polls cond until it holds. timeout only bounds a wait for
// something that should happen anyway; it fails the test naming what was
// awaited, never decides an outcome.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(tick)
	}
}

// Recv returns the next value from ch, failing the test naming what was
// awaited if none comes within timeout or ch is closed.
func Recv[T any](t testing.TB, ch <-chan T, timeout time.Duration, what string) T {
	t.Helper()
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	select {
	case v, ok := <-ch:
		if !ok {
			t.Fatalf("%s: channel closed", what)
		}
		return v
	case <-timer.C:
		t.Fatalf("timed out after %s waiting for %s", timeout, what)
	}
	var zero T
	return zero
}
