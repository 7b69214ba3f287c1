package postgres_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestCountAcrossReplicas: three replicas count one key at once, many
// times each; exactly max counts are granted in the window, whoever
// asks; a unit given back is granted once more.
func TestCountAcrossReplicas(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	r := replicas(t, base, "counters", "a", "b", "c")
	const max, tries = 7, 20
	const per = 10000 * time.Hour // one window for the whole test
	var granted atomic.Int32
	windows := sync.Map{}
	var wg sync.WaitGroup
	for _, db := range r {
		for range tries {
			wg.Add(1)
			go func() {
				defer wg.Done()
				ok, w, left, err := db.Count(ctx, "agent\x00ag", per, max)
				if err != nil {
					t.Error(err)
					return
				}
				if left <= 0 || left > per {
					t.Errorf("time left in the window %v, want within (0, %v]", left, per)
				}
				windows.Store(w, true)
				if ok {
					granted.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	if got := granted.Load(); got != max {
		t.Fatalf("%d counts granted across 3 replicas, want exactly %d", got, max)
	}
	n := 0
	windows.Range(func(any, any) bool { n++; return true })
	if n != 1 {
		t.Fatalf("%d windows, want 1", n)
	}
	var w int64
	windows.Range(func(k, _ any) bool { w = k.(int64); return false })
	if err := r[1].Uncount(ctx, "agent\x00ag", w); err != nil {
		t.Fatal(err)
	}
	for i, want := range []bool{true, false} {
		if ok, _, _, err := r[2].Count(ctx, "agent\x00ag", per, max); err != nil || ok != want {
			t.Fatalf("count %d after a unit was given back: %v, %v; want %v", i, ok, err, want)
		}
	}
	if ok, _, _, err := r[0].Count(ctx, "agent\x00other", per, max); err != nil || !ok {
		t.Fatalf("another key: %v, %v; want counted", ok, err)
	}
}

// TestCountWindows: a full window refuses and says how long until it
// ends; the next window counts afresh.
func TestCountWindows(t *testing.T) {
	base := testkit.Postgres(t)
	ctx := context.Background()
	db := replicas(t, base, "counter_windows", "a")[0]
	const per = 300 * time.Millisecond
	ok, w1, _, err := db.Count(ctx, "k", per, 1)
	if err != nil || !ok {
		t.Fatalf("first count: %v, %v", ok, err)
	}
	ok, w2, left, err := db.Count(ctx, "k", per, 1)
	if err != nil {
		t.Fatal(err)
	}
	if ok && w2 == w1 {
		t.Fatal("a second count in a window of max 1 was granted")
	}
	if !ok {
		time.Sleep(left) // wait for the next window: what is proved is that it counts
		if ok, w3, _, err := db.Count(ctx, "k", per, 1); err != nil || !ok || w3 == w1 {
			t.Fatalf("count in the next window: %v (window %d after %d), %v", ok, w3, w1, err)
		}
	}
	if _, _, _, err := db.Count(ctx, "k", 0, 1); err == nil {
		t.Fatal("a zero window was accepted")
	}
}
