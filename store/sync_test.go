package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestFdatasync checks the per-OS durable sync on a real file: it succeeds
// on an open file, keeps what was written, and fails, rather than claiming
// durability, on a file that is closed.
func TestFdatasync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte("durable frame")
	if _, err := f.Write(want); err != nil {
		t.Fatal(err)
	}
	if err := fdatasync(f); err != nil {
		t.Fatalf("fdatasync on an open file: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("file holds %q, want %q", got, want)
	}
	if err := fdatasync(f); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("fdatasync on a closed file = %v, want an error wrapping os.ErrClosed", err)
	}
}

// TestSyncLatency checks the bench's probe of the disk: as many sorted,
// positive samples as asked, nothing left behind in the directory, and a
// clear error for a directory it cannot write or a count of zero.
func TestSyncLatency(t *testing.T) {
	dir := t.TempDir()
	lats, err := SyncLatency(context.Background(), dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(lats) != 20 || lats[0] <= 0 || !slices.IsSorted(lats) {
		t.Fatalf("got %v, want 20 sorted positive latencies", lats)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Fatalf("the probe left %d files behind", len(left))
	}
	if _, err := SyncLatency(context.Background(), filepath.Join(dir, "missing"), 5); err == nil {
		t.Fatal("a missing directory was measured")
	}
	if _, err := SyncLatency(context.Background(), dir, 0); err == nil {
		t.Fatal("zero samples accepted")
	}
}
