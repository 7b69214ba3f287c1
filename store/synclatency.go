package store

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// SyncLatency measures what one durable point of the write-ahead log costs
// on the disk that holds dir: n small frames written in place into a file
// grown ahead, each followed by the same fdatasync the log uses. The
// latencies come back sorted; the file is removed. It is how `warden
// bench` sets warden's speed against the disk's in the same run.
func SyncLatency(ctx context.Context, dir string, n int) ([]time.Duration, error) {
	if n <= 0 {
		return nil, fmt.Errorf("store: sync latency: %d samples", n)
	}
	f, err := os.CreateTemp(dir, "sync-probe-*")
	if err != nil {
		return nil, fmt.Errorf("store: sync latency: %w", err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	frame := make([]byte, 256)
	if err := f.Truncate(walChunk); err != nil {
		return nil, fmt.Errorf("store: sync latency: grow %s: %w", f.Name(), err)
	}
	// One sync first: the file's size and first block are then on disk,
	// as the log's are before it takes appends.
	if err := f.Sync(); err != nil {
		return nil, fmt.Errorf("store: sync latency: sync %s: %w", f.Name(), err)
	}
	lats := make([]time.Duration, 0, n)
	var off int64
	for range n {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if off+int64(len(frame)) > walChunk {
			off = 0
		}
		t := time.Now()
		if _, err := f.WriteAt(frame, off); err != nil {
			return nil, fmt.Errorf("store: sync latency: write %s: %w", f.Name(), err)
		}
		if err := fdatasync(f); err != nil {
			return nil, fmt.Errorf("store: sync latency: sync %s: %w", filepath.Base(f.Name()), err)
		}
		lats = append(lats, time.Since(t))
		off += int64(len(frame))
	}
	slices.Sort(lats)
	return lats, nil
}
