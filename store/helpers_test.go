package store

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"
)

// openTest opens a store in a fresh temporary directory and closes it when
// the test ends (a test may close it first).
func openTest(t testing.TB, opts ...Option) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "sub", "warden.db")
	db, err := Open(path, opts...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil && !errors.Is(err, ErrClosed) {
			t.Errorf("Close: %v", err)
		}
	})
	return db, path
}

// mustCreate creates an active session for agent with the given start time.
func mustCreate(t testing.TB, db *DB, id, agent string, started time.Time) {
	t.Helper()
	if err := db.CreateSession(context.Background(), Session{ID: id, Agent: agent, Started: started}); err != nil {
		t.Fatalf("CreateSession(%s): %v", id, err)
	}
}

// mustAppend appends a call event for tool and returns it as stored.
func mustAppend(t testing.TB, db *DB, id, tool string) Event {
	t.Helper()
	ev, err := db.Append(context.Background(), id, Event{Kind: KindCall, Tool: tool, Args: []byte(`{"path":"/tmp/x"}`), Verdict: "allow"})
	if err != nil {
		t.Fatalf("Append(%s, %s): %v", id, tool, err)
	}
	return ev
}
