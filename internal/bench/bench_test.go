package bench

import (
	"context"
	"testing"
	"time"
)

// TestRunMeasuresEveryMode checks that the bench really drives all three
// paths (a broken path fails the run); it asserts no speed.
func TestRunMeasuresEveryMode(t *testing.T) {
	res, err := Run(context.Background(), Options{Duration: 600 * time.Millisecond, Sessions: []int{1, 2}, Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("got %d results, want 6", len(res))
	}
	for _, r := range res {
		if r.CallsPerSec <= 0 || r.P50us <= 0 || r.P99us < r.P50us {
			t.Fatalf("implausible result %+v", r)
		}
	}
}
