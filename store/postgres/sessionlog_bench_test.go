package postgres_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/store"
)

// BenchmarkCreateSession measures session creations per second on
// PostgreSQL, from 1 and 16 goroutines: each start is appended to the
// session log in the creation's transaction, on the SystemLog's one row,
// so creations queue there however many run at once.
//
//	go test -run '^$' -bench CreateSession -benchtime 2000x ./store/postgres/
func BenchmarkCreateSession(b *testing.B) {
	base := testkit.Postgres(b)
	for i, writers := range []int{1, 16} {
		b.Run(fmt.Sprintf("goroutines=%d", writers), func(b *testing.B) {
			db := openFresh(b, base, fmt.Sprintf("bench_create_%d_%d", i, b.N))
			ctx := context.Background()
			var next atomic.Int64
			b.ResetTimer()
			start := time.Now()
			var wg sync.WaitGroup
			for range writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for n := next.Add(1); n <= int64(b.N); n = next.Add(1) {
						if err := db.CreateSession(ctx, store.Session{ID: fmt.Sprint("s", n), Agent: "a"}); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "sessions/s")
		})
	}
}
