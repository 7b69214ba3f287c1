package main

import (
	"math"
	"runtime/debug"
	"testing"
)

// TestReplayGC: a replay paces the collector to its streamed, small live
// heap, under a ceiling, unless GOGC or GOMEMLIMIT say otherwise, and
// puts the pace and the ceiling back when done.
func TestReplayGC(t *testing.T) {
	const before, beforeLimit = 77, int64(7 << 30) // what the test sets before
	tests := []struct {
		name      string
		env       map[string]string
		want      int
		wantLimit int64
	}{
		{"neither set", nil, replayGCPercent, replayMemoryLimit},
		{"GOGC set", map[string]string{"GOGC": "50"}, before, replayMemoryLimit},
		{"GOMEMLIMIT set", map[string]string{"GOMEMLIMIT": "1GiB"}, replayGCPercent, beforeLimit},
		{"both set", map[string]string{"GOGC": "off", "GOMEMLIMIT": "1GiB"}, before, beforeLimit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev, prevLimit := debug.SetGCPercent(before), debug.SetMemoryLimit(beforeLimit)
			t.Cleanup(func() { debug.SetGCPercent(prev); debug.SetMemoryLimit(prevLimit) })
			restore := replayGC(func(k string) string { return tt.env[k] })
			if got := debug.SetGCPercent(-1); got != tt.want {
				t.Errorf("during the replay GC percent %d, want %d", got, tt.want)
			}
			debug.SetGCPercent(tt.want)
			if got := debug.SetMemoryLimit(-1); got != tt.wantLimit {
				t.Errorf("during the replay memory limit %d, want %d", got, tt.wantLimit)
			}
			restore()
			if got := debug.SetGCPercent(prev); got != before {
				t.Errorf("after the replay GC percent %d, want %d back", got, before)
			}
			if got := debug.SetMemoryLimit(math.MaxInt64); got != beforeLimit {
				t.Errorf("after the replay memory limit %d, want %d back", got, beforeLimit)
			}
		})
	}
}
