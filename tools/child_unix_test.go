//go:build unix

package tools_test

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/warden-dev/warden/tools"
)

// TestCloseEndsStdioDescendants starts a stdio upstream that starts a
// process of its own which ignores its parent's end; once the hub has
// closed, that descendant must be gone too. It holds a FIFO open for
// writing, so its death is seen as end-of-file by the reader. When the
// upstream waits for its descendant (npx waits for the node server, which
// does not exit at end-of-file), the descendant must be asked to end
// (SIGTERM, to its whole process group) before it is killed.
func TestCloseEndsStdioDescendants(t *testing.T) {
	for _, tc := range []struct {
		role     string
		mustTerm bool // whether a SIGTERM must come first (else it may)
	}{
		{role: roleUp},
		{role: roleWaits, mustTerm: true},
	} {
		t.Run(tc.role, func(t *testing.T) {
			said := closeWithLingerer(t, tc.role)
			if tc.mustTerm && !strings.Contains(said, "term") {
				t.Fatalf("the descendant said %q at its end: it was killed without a SIGTERM first", said)
			}
		})
	}
}

// closeWithLingerer starts the hub with the stdio upstream role, closes
// it, and returns what the upstream's descendant wrote before it died.
func closeWithLingerer(t *testing.T, role string) string {
	t.Helper()
	fifo := filepath.Join(t.TempDir(), "alive")
	if err := unix.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	hub, err := tools.NewHub([]tools.Spec{{
		Name:    "child",
		Command: os.Args[0],
		Env:     []string{roleVar + "=" + role, fifoVar + "=" + fifo},
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
	gone := make(chan string, 1)
	go func() {
		said, _ := io.ReadAll(r) // returns at end-of-file: every writer is dead
		gone <- string(said)
	}()
	select {
	case said := <-gone:
		return said
	case <-time.After(30 * time.Second):
		t.Fatal("the upstream's descendant still runs 30 s after Close")
		return ""
	}
}
