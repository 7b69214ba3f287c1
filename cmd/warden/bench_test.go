package main

import (
	"strings"
	"testing"
)

// TestBenchRefusesBadSessions: a concurrency level that is not a number of
// sessions is refused before anything is measured.
func TestBenchRefusesBadSessions(t *testing.T) {
	for _, sessions := range [][]int{{0}, {1, -16}} {
		err := (&benchCmd{Sessions: sessions, Dir: t.TempDir()}).Run()
		if err == nil || !strings.Contains(err.Error(), "--sessions") {
			t.Fatalf("bench --sessions %v = %v, want an error naming --sessions", sessions, err)
		}
	}
}
