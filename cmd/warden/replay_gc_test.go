package main

import (
	"runtime/debug"
	"testing"
)

// TestReplayGC: a replay paces the collector to its streamed, small live
// heap unless GOGC says otherwise, and puts the pace back when done.
func TestReplayGC(t *testing.T) {
	tests := []struct {
		name string
		gogc string
		want int
	}{
		{"no GOGC", "", replayGCPercent},
		{"GOGC set", "50", 77}, // 77: what the test set before, untouched
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prev := debug.SetGCPercent(77)
			t.Cleanup(func() { debug.SetGCPercent(prev) })
			restore := replayGC(func(k string) string {
				if k == "GOGC" {
					return tt.gogc
				}
				return ""
			})
			if got := debug.SetGCPercent(77); got != tt.want {
				t.Errorf("during the replay GC percent %d, want %d", got, tt.want)
			}
			debug.SetGCPercent(tt.want) // as it was during the replay
			restore()
			if got := debug.SetGCPercent(prev); got != 77 {
				t.Errorf("after the replay GC percent %d, want 77 back", got)
			}
		})
	}
}
