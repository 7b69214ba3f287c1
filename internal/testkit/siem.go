package testkit

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

// SIEM is a SIEM's ingest endpoint on 127.0.0.1 for export tests: it
// answers 503 to the first fails POSTs of JSON Lines; of the POSTs it
// takes after those, it holds number hangAt unanswered, its lines taken,
// until the client gives up (a warden stopped with a batch in flight); it
// answers 204 to the others. It keeps the metadata.uid of every line it
// took.
type SIEM struct {
	URL    string
	mu     sync.Mutex
	fails  int
	hangAt int
	taken  int
	uids   []string
	posted chan struct{}
	hung   chan struct{}
}

// NewSIEM serves a SIEM until the test ends.
func NewSIEM(t testing.TB, fails, hangAt int) *SIEM {
	t.Helper()
	s := &SIEM{fails: fails, hangAt: hangAt, posted: make(chan struct{}, 1), hung: make(chan struct{})}
	srv := httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(srv.Close)
	s.URL = srv.URL
	return s
}

func (s *SIEM) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil || r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-ndjson" {
		http.Error(w, "want a POST of application/x-ndjson", http.StatusBadRequest)
		return
	}
	s.mu.Lock()
	if s.fails > 0 {
		s.fails--
		s.mu.Unlock()
		http.Error(w, "busy", http.StatusServiceUnavailable)
		return
	}
	s.uids = append(s.uids, LineUIDs(body)...)
	s.taken++
	hang := s.taken == s.hangAt
	s.mu.Unlock()
	select {
	case s.posted <- struct{}{}:
	default: // a signal is pending already
	}
	if hang {
		close(s.hung)
		<-r.Context().Done()
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// WaitHeld waits until the SIEM holds POST hangAt.
func (s *SIEM) WaitHeld(t testing.TB) {
	t.Helper()
	select {
	case <-s.hung:
	case <-time.After(60 * time.Second): // liveness only
		t.Fatal("the SIEM never got the POST it was to hold")
	}
}

// Received returns the uid of every line taken so far, in order.
func (s *SIEM) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.uids...)
}

// WaitFor waits until the SIEM has taken every uid that want returns
// (called again after each POST, as the history may grow).
func (s *SIEM) WaitFor(t testing.TB, want func() []string) {
	t.Helper()
	deadline := time.After(60 * time.Second) // liveness only
	for {
		if len(Missing(s.Received(), want())) == 0 {
			return
		}
		select {
		case <-s.posted:
		case <-deadline:
			t.Fatalf("the SIEM never got %v", Missing(s.Received(), want()))
		}
	}
}

// Missing lists the members of want that got lacks.
func Missing(got, want []string) []string {
	have := map[string]bool{}
	for _, u := range got {
		have[u] = true
	}
	var out []string
	for _, u := range want {
		if !have[u] {
			out = append(out, u)
		}
	}
	return out
}

// Duplicates lists, in order of their second arrival, the uids seen twice.
func Duplicates(uids []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, u := range uids {
		if seen[u] {
			out = append(out, u)
		}
		seen[u] = true
	}
	return out
}

// LineUIDs reads the metadata.uid of each OCSF line in b; a line without
// one counts as "UNREADABLE" and its text, so a test sees it.
func LineUIDs(b []byte) []string {
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

// Background runs run in a goroutine until the returned stop is called or
// the test ends; stop cancels run's context and returns once run has.
func Background(t testing.TB, run func(ctx context.Context)) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		run(ctx)
	}()
	stop = sync.OnceFunc(func() {
		cancel()
		<-done
	})
	t.Cleanup(stop)
	return stop
}
