package sink

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/warden-dev/warden/ocsf"
	"github.com/warden-dev/warden/store"
)

// siem is a SIEM's ingest endpoint on 127.0.0.1: it answers 503 to the
// first fails POSTs; it takes the lines of POST number hangAt and then
// holds it unanswered until the client gives up (a warden stopped with a
// batch in flight); it answers 200 otherwise.
type siem struct {
	URL    string
	mu     sync.Mutex
	fails  int
	hangAt int
	posts  int
	uids   []string      // metadata.uid of every line taken, in order
	posted chan struct{} // a signal after each POST that took lines
	hung   chan struct{} // closed when POST hangAt is held
}

func newSIEM(t *testing.T, fails, hangAt int) *siem {
	t.Helper()
	s := &siem{fails: fails, hangAt: hangAt, posted: make(chan struct{}, 1000), hung: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *siem) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Header.Get("Content-Type") != "application/x-ndjson" {
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	s.posts++
	if s.fails > 0 {
		s.fails--
		s.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	s.uids = append(s.uids, lineUIDs(body)...)
	hang := s.posts == s.hangAt
	s.mu.Unlock()
	s.posted <- struct{}{}
	if hang {
		close(s.hung)
		<-r.Context().Done()
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// received returns the uids taken so far.
func (s *siem) received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uids...)
}

// waitFor waits until the SIEM has taken every uid in want.
func (s *siem) waitFor(t *testing.T, want []string) {
	t.Helper()
	deadline := time.After(60 * time.Second) // liveness only
	for {
		if missing := missingFrom(s.received(), want); len(missing) == 0 {
			return
		}
		select {
		case <-s.posted:
		case <-deadline:
			t.Fatalf("the SIEM never got %v", missingFrom(s.received(), want))
		}
	}
}

func missingFrom(got, want []string) []string {
	have := map[string]bool{}
	for _, u := range got {
		have[u] = true
	}
	var missing []string
	for _, u := range want {
		if !have[u] {
			missing = append(missing, u)
		}
	}
	return missing
}

// lineUIDs reads the metadata.uid of each OCSF line.
func lineUIDs(b []byte) []string {
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(nil, 16<<20)
	for sc.Scan() {
		var l struct {
			Metadata struct{ UID string } `json:"metadata"`
		}
		if json.Unmarshal(sc.Bytes(), &l) != nil || l.Metadata.UID == "" {
			out = append(out, "UNREADABLE "+sc.Text())
			continue
		}
		out = append(out, l.Metadata.UID)
	}
	return out
}

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
		out = append(out, lineUIDs(buf.Bytes())...)
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
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return stop
}
