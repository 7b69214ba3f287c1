package store

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend measures durable appends per second at 1 and 16
// concurrent writers (each on its own session), with group commit and with
// the naive baseline of one bbolt Update (one fsync) per append, side by
// side in one run. The parent logs group/naive as a ratio. Besides the
// rate it reports the process's CPU time per event (user and system, the
// fdatasyncs' included), which a disk shared with other work does not blur
// as it does the rate, and how often an appender was woken by the end of a
// sync per event (wakes/event).
func BenchmarkAppend(b *testing.B) {
	rates := map[string]float64{}
	for _, writers := range []int{1, 16} {
		for _, naive := range []bool{false, true} {
			mode := "group"
			if naive {
				mode = "naive"
			}
			name := fmt.Sprintf("writers=%d/%s", writers, mode)
			b.Run(name, func(b *testing.B) {
				db, err := Open(filepath.Join(b.TempDir(), "bench.db"), func(o *options) { o.naive = naive })
				if err != nil {
					b.Fatal(err)
				}
				defer db.Close()
				appendAll(b, db, writers, nil)
				rate := float64(b.N) / b.Elapsed().Seconds()
				b.ReportMetric(rate, "events/s")
				if !naive {
					b.ReportMetric(float64(b.N)/float64(db.j.syncs.Load()), "events/fsync")
					b.ReportMetric(float64(db.j.wakes.Load())/float64(b.N), "wakes/event")
					// What the copier made bbolt allocate: pages it wrote.
					b.ReportMetric(float64(boltPageAlloc(db))/float64(b.N), "bbolt-B/event")
				}
				rates[name] = rate
			})
		}
		if g, n := rates[fmt.Sprintf("writers=%d/group", writers)], rates[fmt.Sprintf("writers=%d/naive", writers)]; n > 0 {
			b.Logf("writers=%d: group commit %.0f events/s, naive %.0f events/s, ratio %.2fx", writers, g, n, g/n)
		}
	}
}

// BenchmarkPacedAppend is BenchmarkAppend's group commit with appends
// arriving as warden's do: each writer pauses between its appends for
// what a hop's call takes at that load (0-2 ms, at random), rather than
// appending back to back. Back to back, every writer is waiting whenever
// a sync ends and groups are as large as they can be (about 8 events an
// fdatasync at 16 writers); paced, an fdatasync carries about 3 at 16
// writers, as warden's log does in `warden bench`. It reports what
// BenchmarkAppend does, and the mean wait of an append (wait-µs).
func BenchmarkPacedAppend(b *testing.B) {
	for _, writers := range []int{16, 64} {
		b.Run(fmt.Sprintf("writers=%d", writers), func(b *testing.B) {
			db, err := Open(filepath.Join(b.TempDir(), "bench.db"))
			if err != nil {
				b.Fatal(err)
			}
			defer db.Close()
			syncs := db.j.syncs.Load()
			appendAll(b, db, writers, func() { time.Sleep(time.Duration(rand.IntN(2000)) * time.Microsecond) })
			st := db.LogStats()
			b.ReportMetric(float64(b.N)/float64(st.Syncs-syncs), "events/fsync")
			b.ReportMetric(float64(db.j.wakes.Load())/float64(b.N), "wakes/event")
			b.ReportMetric(float64(st.Wait.Microseconds())/float64(st.Appends), "wait-µs")
		})
	}
}

// appendAll creates writers sessions and has each append to its own in a
// loop, pause (if any) after each append, until b.N appends are durable;
// it reports the process's CPU time per event.
func appendAll(b *testing.B, db *DB, writers int, pause func()) {
	b.Helper()
	ctx := context.Background()
	for w := 0; w < writers; w++ {
		if err := db.CreateSession(ctx, Session{ID: fmt.Sprint("s", w), Agent: "a"}); err != nil {
			b.Fatal(err)
		}
	}
	args := json.RawMessage(`{"customer":"c-1042","amount":125.5,"currency":"EUR","memo":"refund for order 88231"}`)
	var next atomic.Int64
	var wg sync.WaitGroup
	b.ResetTimer()
	cpu := cpuTime()
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func(id string) {
			defer wg.Done()
			for next.Add(1) <= int64(b.N) {
				_, err := db.Append(ctx, id, Event{Kind: KindCall, CallID: "c", Upstream: "billing", Tool: "refund", Args: args,
					Verdict: "allow", Reasons: []string{"in workflow"}, LatencyUS: 120, Time: time.Now()})
				if err != nil {
					b.Error(err)
					return
				}
				if pause != nil {
					pause()
				}
			}
		}(fmt.Sprint("s", w))
	}
	wg.Wait()
	b.StopTimer()
	if used := cpuTime() - cpu; used > 0 {
		b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/event")
	}
}

// boltPageAlloc is the bytes of pages bbolt allocated for db's commits.
func boltPageAlloc(db *DB) int64 {
	st := db.j.bolt.Stats()
	return st.TxStats.GetPageAlloc()
}
