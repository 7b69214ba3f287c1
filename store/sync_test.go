package store

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
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
