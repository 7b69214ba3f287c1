package sink

import (
	"bytes"
	"context"
	"path/filepath"
	"testing"

	"github.com/warden-dev/warden/internal/testkit"
	"github.com/warden-dev/warden/ocsf"
	"github.com/warden-dev/warden/store"
)

// expected is the uid of every OCSF line the whole history maps to.
func expected(t *testing.T, db *store.DB) []string {
	t.Helper()
	ctx := context.Background()
	list, err := db.Sessions(ctx, store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if sys, err := db.Session(ctx, store.SystemLog); err == nil {
		list = append(list, sys)
	}
	var out []string
	for _, s := range list {
		evs, err := db.Events(ctx, s.ID)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if _, err := ocsf.Write(&buf, s, evs); err != nil {
			t.Fatal(err)
		}
		out = append(out, testkit.LineUIDs(buf.Bytes())...)
	}
	return out
}

// openDB opens a fresh history in dir.
func openDB(t *testing.T, dir string) *store.DB {
	t.Helper()
	db, err := store.Open(filepath.Join(dir, "warden.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// addSession records a session with n allowed calls and their results.
func addSession(t *testing.T, db *store.DB, id string, n int) {
	t.Helper()
	ctx := context.Background()
	if err := db.CreateSession(ctx, store.Session{ID: id, Agent: "bot", RemoteAddr: "127.0.0.1:5000"}); err != nil {
		t.Fatal(err)
	}
	appendEvents(t, db, id, store.Event{Kind: store.KindSessionStart})
	addCalls(t, db, id, n)
}

func addCalls(t *testing.T, db *store.DB, id string, n int) {
	t.Helper()
	for i := range n {
		call := store.Event{Kind: store.KindCall, CallID: id + "-" + string(rune('a'+i%26)), Upstream: "u", Tool: "echo", Verdict: "allow"}
		if i%5 == 4 {
			call.Verdict, call.Reasons = "flag", []string{"every fifth call is flagged"}
		}
		res := store.Event{Kind: store.KindResult, CallID: call.CallID, Upstream: "u", Tool: "echo", OK: true}
		appendEvents(t, db, id, call, res)
	}
}

func appendEvents(t *testing.T, db *store.DB, id string, evs ...store.Event) {
	t.Helper()
	for _, e := range evs {
		if _, err := db.Append(context.Background(), id, e); err != nil {
			t.Fatal(err)
		}
	}
}

// runSink runs a sink until the returned stop is called (or the test
// ends); stop returns once Run has.
func runSink(t *testing.T, o Options) (stop func()) {
	t.Helper()
	s, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	return testkit.Background(t, s.Run)
}
