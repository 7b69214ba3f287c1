package supervisor

import (
	"context"
	"errors"
	"testing"
)

// TestKeyLocks: a key held is not taken again until it is unlocked (a
// waiter gives up when its context ends), and other keys are free
// meanwhile.
func TestKeyLocks(t *testing.T) {
	var k keyLocks
	ctx := context.Background()
	done, cancel := context.WithCancel(ctx)
	cancel()
	unlock, err := k.lock(ctx, "a")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.lock(done, "a"); !errors.Is(err, context.Canceled) {
		t.Fatalf("lock of a held key: %v, want it to wait (and give up with its context)", err)
	}
	unlockB, err := k.lock(done, "b")
	if err != nil {
		t.Fatalf("lock of another key while a is held: %v", err)
	}
	unlockB()
	got := make(chan error, 1)
	go func() {
		u, err := k.lock(ctx, "a")
		if err == nil {
			u()
		}
		got <- err
	}()
	unlock()
	if err := <-got; err != nil {
		t.Fatalf("lock after unlock: %v", err)
	}
	if _, err := k.lock(done, "a"); err != nil {
		t.Fatalf("a is still held after both unlocked: %v", err)
	}
}
