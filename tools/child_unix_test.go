//go:build unix

package tools_test

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warden-dev/warden/tools"
)

// TestCloseEndsStdioDescendants starts a stdio upstream that starts a
// process of its own which ignores its parent's end; once the hub has
// closed, that descendant must be gone too. It holds a FIFO open for
// writing, so its death is seen as end-of-file by the reader.
func TestCloseEndsStdioDescendants(t *testing.T) {
	fifo := filepath.Join(t.TempDir(), "alive")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := tools.NewHub([]tools.Spec{{
		Name:    "child",
		Command: os.Args[0],
		Env:     []string{roleVar + "=" + roleUp, fifoVar + "=" + fifo},
	}}, tools.Options{})
	if err != nil {
		t.Fatal(err)
	}
	hub.Start(t.Context(), nil, func(*tools.Catalog) {})
	if n := len(hub.Catalog().Tools); n != 1 {
		_ = hub.Close()
		t.Fatalf("catalog has %d tools after Start, want 1 (status %+v)", n, hub.Status())
	}
	// Opening for reading waits for the lingerer to open its end.
	r, err := os.Open(fifo)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	if err := hub.Close(); err != nil {
		t.Fatal(err)
	}
	gone := make(chan error, 1)
	go func() {
		_, err := io.ReadAll(r) // returns at end-of-file: every writer is dead
		gone <- err
	}()
	select {
	case err := <-gone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream's descendant still runs 30 s after Close")
	}
}
