package sink

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden/internal/testkit"
)

// TestHTTPRetriesAndResumes: the SIEM refuses the first attempts; the sink
// retries until every event arrived, once; after a clean stop, new events
// and a new sink on the same cursor, only the new events are sent.
func TestHTTPRetriesAndResumes(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	addSession(t, db, "s1", 7)
	addSession(t, db, "s2", 3)
	siem := testkit.NewSIEM(t, 3, 0)
	o := Options{History: db, To: HTTP(siem.URL, http.Header{"Authorization": {"Bearer x"}}), Cursor: filepath.Join(dir, "cursor"),
		Batch: 4, Interval: time.Millisecond, RetryMin: time.Millisecond, RetryMax: 5 * time.Millisecond}
	stop := runSink(t, o)
	first := expected(t, db)
	siem.WaitFor(t, func() []string { return first })
	stop()
	if got := siem.Received(); !sameMultiset(got, first) {
		t.Fatalf("first run: got %d lines %v\nwant each of %d once: %v", len(got), got, len(first), first)
	}

	addCalls(t, db, "s1", 2)
	addSession(t, db, "s3", 1)
	o.To = HTTP(siem.URL, nil)
	stop = runSink(t, o)
	all := expected(t, db)
	siem.WaitFor(t, func() []string { return all })
	stop()
	if got := siem.Received(); !sameMultiset(got, all) {
		t.Fatalf("after the restart: got %v\nwant each of %v once", got, all)
	}
}

// TestRestartWithBatchInFlight: warden stops while the SIEM holds a batch
// it has taken but not acknowledged; after the restart that batch comes
// again, and nothing else twice, and nothing is missing.
func TestRestartWithBatchInFlight(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	addSession(t, db, "s1", 10)
	siem := testkit.NewSIEM(t, 0, 2)
	o := Options{History: db, To: HTTP(siem.URL, nil), Cursor: filepath.Join(dir, "cursor"),
		Batch: 5, Interval: time.Millisecond, RetryMin: time.Millisecond, RetryMax: time.Millisecond, Grace: time.Millisecond}
	stop := runSink(t, o)
	siem.WaitHeld(t)
	stop()
	before := siem.Received()

	o.To = HTTP(siem.URL, nil)
	stop = runSink(t, o)
	want := expected(t, db)
	siem.WaitFor(t, func() []string { return want })
	stop()
	got := siem.Received()
	dups := testkit.Duplicates(got)
	inFlight := before[len(before)-len(dups):] // the held batch's lines
	if missing := testkit.Missing(got, want); len(missing) > 0 {
		t.Fatalf("missing %v", missing)
	}
	if len(dups) == 0 || !slices.Equal(dups, inFlight) {
		t.Fatalf("sent twice: %v; want exactly the batch in flight at the stop, %v", dups, inFlight)
	}
}

// TestFileSink appends batches to a file, fsync'd, and on start cuts a
// line a crash left half written.
func TestFileSink(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	addSession(t, db, "s1", 6)
	path := filepath.Join(dir, "siem", "ocsf.jsonl")
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		t.Fatal(err)
	}
	// A previous run's torn last line: its batch was never acknowledged.
	if err := os.WriteFile(path, []byte(`{"metadata":{"uid":"old/1"}}`+"\n"+`{"metadata":{"ui`), 0o600); err != nil {
		t.Fatal(err)
	}
	to, err := File(path)
	if err != nil {
		t.Fatal(err)
	}
	s, err := New(Options{History: db, To: to, Cursor: filepath.Join(dir, "cursor"), Batch: 4})
	if err != nil {
		t.Fatal(err)
	}
	for {
		full, err := s.step(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if !full {
			break
		}
	}
	to.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := append([]string{"old/1"}, expected(t, db)...)
	if got := testkit.LineUIDs(b); !slices.Equal(got, want) {
		t.Fatalf("file lines %v\nwant %v", got, want)
	}
}

func TestDamagedCursorStopsTheSink(t *testing.T) {
	dir := t.TempDir()
	db := openDB(t, dir)
	for _, content := range []string{"{", `{"version":2,"sessions":{}}`, `{"version":1,"sessions":{"s":-1}}`, `{"version":1,"sessions":{"":1}}`, `{"version":1}{}`} {
		path := filepath.Join(dir, "cursor")
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := New(Options{History: db, To: HTTP("http://127.0.0.1:1", nil), Cursor: path})
		if err == nil || !strings.Contains(err.Error(), "damaged") {
			t.Errorf("cursor %q: %v; want an error saying it is damaged", content, err)
		}
	}
}

func FuzzParseCursor(f *testing.F) {
	for _, seed := range []string{`{"version":1,"sessions":{"a":3}}`, `{"version":1}`, `{`, `[]`, `{"version":1,"sessions":{"a":18446744073709551616}}`} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		seqs, err := parseCursor(b)
		if err == nil && seqs == nil {
			t.Fatal("a cursor without sessions map and no error")
		}
	})
}

// sameMultiset says got holds each of want exactly once, and nothing else.
func sameMultiset(got, want []string) bool {
	a, b := slices.Clone(got), slices.Clone(want)
	slices.Sort(a)
	slices.Sort(b)
	return slices.Equal(a, b)
}
