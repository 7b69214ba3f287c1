package postgres_test

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// BenchmarkAppend measures durable appends per second, bbolt and
// PostgreSQL in one run, from 1 and 16 goroutines (each on its own
// session, as concurrent agent sessions are): with 16, commits are
// shared (bbolt's group commit, PostgreSQL's WAL flushes).
//
//	go test -run '^$' -bench Append -benchtime 2000x ./store/postgres/
func BenchmarkAppend(b *testing.B) {
	base := testkit.Postgres(b)
	stores := []struct {
		name string
		open func(b *testing.B, n int) store.Store
	}{
		{"bbolt", func(b *testing.B, _ int) store.Store {
			db, err := store.Open(filepath.Join(b.TempDir(), "warden.db"))
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			return db
		}},
		{"postgres", func(b *testing.B, n int) store.Store {
			return openFresh(b, base, fmt.Sprintf("bench_%d", n))
		}},
	}
	n := 0
	for _, s := range stores {
		for _, writers := range []int{1, 16} {
			b.Run(fmt.Sprintf("%s/goroutines=%d", s.name, writers), func(b *testing.B) {
				n++
				st := s.open(b, n)
				benchAppends(b, st, writers)
			})
		}
	}
}

func benchAppends(b *testing.B, st store.Store, writers int) {
	ctx := context.Background()
	for w := 0; w < writers; w++ {
		if err := st.CreateSession(ctx, store.Session{ID: fmt.Sprint("s", w), Agent: "a"}); err != nil {
			b.Fatal(err)
		}
	}
	ev := store.Event{Kind: store.KindCall, Tool: "read_file", Args: []byte(`{"path":"/srv/kb/refunds.md"}`), Verdict: "allow"}
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < b.N; i += writers {
				if _, err := st.Append(ctx, fmt.Sprint("s", w), ev); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}
