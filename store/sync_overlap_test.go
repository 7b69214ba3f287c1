package store

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkOverlappingSyncs asks whether fdatasyncs in flight together on
// one file overlap on this disk, which is what pipelining the log's
// durable points would need: 1, 2 and 4 goroutines each write a small
// frame in place at its own offset (in a file grown ahead and synced, as
// the log's is) and fdatasync it, over and over. If syncs overlap, syncs/s
// grows with the goroutines; if the filesystem serialises them, it stays
// flat and each sync's wall time grows instead. Also: the process's CPU
// time per sync.
func BenchmarkOverlappingSyncs(b *testing.B) {
	for _, inFlight := range []int{1, 2, 4} {
		b.Run(fmt.Sprintf("in_flight=%d", inFlight), func(b *testing.B) {
			f, err := os.Create(filepath.Join(b.TempDir(), "log"))
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			if err := f.Truncate(walChunk); err != nil {
				b.Fatal(err)
			}
			if err := f.Sync(); err != nil {
				b.Fatal(err)
			}
			frame := make([]byte, 512)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			cpu := cpuTime()
			for range inFlight {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
						// Each sync writes where no other has, as the log
						// does, so that a block is allocated each time.
						off := (i * int64(len(frame))) % walChunk
						if _, err := f.WriteAt(frame, off); err != nil {
							b.Error(err)
							return
						}
						if err := fdatasync(f); err != nil {
							b.Error(err)
							return
						}
					}
				}()
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "syncs/s")
			if used := cpuTime() - cpu; used > 0 {
				b.ReportMetric(float64(used.Microseconds())/float64(b.N), "cpu-µs/sync")
			}
		})
	}
}
