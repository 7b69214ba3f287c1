package supervisor

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestReplayStreamBounded: a replay reads its input a few batches of
// sessions ahead of what it has handed out, not the whole history first,
// and hands the sessions out in the input's order, with workers too.
func TestReplayStreamBounded(t *testing.T) {
	const sessions = 5000
	p := rulesPolicy(t, "rules:\n  - {when: \"call.tool == 'x'\", action: flag, reason: x}\n")
	for _, workers := range []int{1, 4} {
		t.Run(fmt.Sprintf("workers %d", workers), func(t *testing.T) {
			var read, emitted atomic.Int64
			most := int64(0) // the most sessions read and not yet handed out
			next := func() (Trace, error) {
				most = max(most, read.Load()-emitted.Load())
				n := read.Add(1)
				if n > sessions {
					return Trace{}, io.EOF
				}
				return Trace{ID: fmt.Sprint(n), Calls: []TraceCall{{Tool: "x"}, {Tool: "y"}}}, nil
			}
			sum, err := ReplayStream(p, next, ReplayOptions{Workers: workers}, func(rs ReplayedSession) error {
				if want := fmt.Sprint(emitted.Add(1)); rs.ID != want {
					return fmt.Errorf("session %s handed out as number %s", rs.ID, want)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if sum.Sessions != sessions || sum.Calls != 2*sessions || sum.ByCall[1] != sessions {
				t.Errorf("summary %+v, want %d sessions, %d calls, %d flagged", sum, sessions, 2*sessions, sessions)
			}
			// The batch being read, those waiting for or on a worker or
			// for emit, and the one being handed out.
			bound := int64(1)
			if workers > 1 {
				bound = int64(2*workers+2) * batchSessions
			}
			if most > bound {
				t.Errorf("%d sessions read ahead of those handed out, want at most %d", most, bound)
			}
		})
	}
}

// TestReplayStreamStops: an error handing a session out, or reading one,
// stops the replay and is returned; the input is not read to its end.
func TestReplayStreamStops(t *testing.T) {
	p := rulesPolicy(t, "rules: []\n")
	full, broken := errors.New("disk full"), errors.New("line garbled")
	tests := []struct {
		name     string
		readErr  error // returned by the 3rd read
		emitErr  error // returned by the 2nd hand-out
		workers  int
		wantErr  error
		maxReads int64
	}{
		{"emit, one at a time", nil, full, 1, full, 2},
		{"emit, workers", nil, full, 3, full, (2*3 + 2) * batchSessions},
		{"read, one at a time", broken, nil, 1, broken, 3},
		{"read, workers", broken, nil, 3, broken, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var reads, emits atomic.Int64
			next := func() (Trace, error) {
				n := reads.Add(1)
				if n == 3 && tt.readErr != nil {
					return Trace{}, tt.readErr
				}
				return Trace{ID: fmt.Sprint(n), Calls: []TraceCall{{Tool: "x"}}}, nil // endless
			}
			_, err := ReplayStream(p, next, ReplayOptions{Workers: tt.workers}, func(ReplayedSession) error {
				if emits.Add(1) == 2 && tt.emitErr != nil {
					return tt.emitErr
				}
				return nil
			})
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("error %v, want %v", err, tt.wantErr)
			}
			if n := reads.Load(); n > tt.maxReads {
				t.Errorf("%d sessions read, want at most %d", n, tt.maxReads)
			}
		})
	}
}

// TestReplayStreamDecodesOnWorkers: TraceReader.Deferred hands lines out
// undecoded, even a malformed one, and ReplayStream decodes them on its
// workers: the same verdicts as traces read with Next, and a line that
// does not decode stops the replay with its line number after the
// sessions before it are handed out.
func TestReplayStreamDecodesOnWorkers(t *testing.T) {
	p := rulesPolicy(t, "rules:\n  - {when: \"call.tool == 'x'\", action: flag, reason: x}\n")
	good := "{\"id\": \"a\", \"calls\": [{\"tool\": \"x\"}, {\"tool\": \"y\"}]}\n\n{\"calls\": [{\"tool\": \"y\"}]}\n{\"agent\": \"other\", \"calls\": [{\"tool\": \"x\"}]}\n"
	for _, workers := range []int{1, 3} {
		t.Run(fmt.Sprint("workers ", workers), func(t *testing.T) {
			rd := NewTraceReader(strings.NewReader("{not json\n"))
			if tr, err := rd.Deferred(); err != nil || tr.Line != 1 || tr.Calls != nil {
				t.Fatalf("Deferred decoded the line: %+v, %v", tr, err)
			}
			var got []string
			sum, err := ReplayStream(p, NewTraceReader(strings.NewReader(good)).Deferred, ReplayOptions{Agent: "me", Workers: workers}, func(rs ReplayedSession) error {
				got = append(got, fmt.Sprint(rs.ID, rs.Calls[0].Verdict))
				return nil
			})
			want := []string{"aflag", "3allow"}
			if err != nil || !reflect.DeepEqual(got, want) || sum.Skipped != 1 || sum.Calls != 3 {
				t.Errorf("got %v, %+v, %v; want %v, 3 calls, 1 skipped", got, sum, err, want)
			}
			got = nil
			bad := good + "{\"calls\": [{\"tool\": 5}]}\n" + good
			_, err = ReplayStream(p, NewTraceReader(strings.NewReader(bad)).Deferred, ReplayOptions{Workers: workers}, func(rs ReplayedSession) error {
				got = append(got, rs.ID)
				return nil
			})
			if err == nil || !strings.Contains(err.Error(), "traces line 5:") || len(got) != 3 {
				t.Errorf("bad line 5: handed out %v, error %v; want 3 sessions, then an error naming line 5", got, err)
			}
		})
	}
}

// TestReplayStreamEncodesOnWorkers: with workers, ReplayOptions.Encode
// runs on the workers, two sessions' at once (on the one goroutine that
// hands sessions out in order it could not: the first Encode waits for a
// second), each session handed out in order with its own encoding; an
// Encode error stops the replay and is returned.
func TestReplayStreamEncodesOnWorkers(t *testing.T) {
	p := rulesPolicy(t, "rules:\n  - {when: \"call.tool == 'x'\", action: flag, reason: x}\n")
	const sessions = 20
	traces := func() func() (Trace, error) {
		n := 0
		return func() (Trace, error) {
			if n++; n > sessions {
				return Trace{}, io.EOF
			}
			return Trace{ID: fmt.Sprint(n), Calls: []TraceCall{{Tool: "x"}}}, nil
		}
	}
	var inFlight atomic.Int64
	two := make(chan struct{})
	var once sync.Once
	encode := func(rs ReplayedSession) ([]byte, error) {
		if inFlight.Add(1) == 2 {
			once.Do(func() { close(two) })
		}
		defer inFlight.Add(-1)
		select {
		case <-two:
		case <-t.Context().Done():
		case <-time.After(30 * time.Second):
			return nil, errors.New("no second session was encoded while this one was")
		}
		return json.Marshal(rs)
	}
	emitted := 0
	_, err := ReplayStream(p, traces(), ReplayOptions{Workers: 2, Encode: encode}, func(rs ReplayedSession) error {
		emitted++
		want, _ := json.Marshal(ReplayedSession{ID: fmt.Sprint(emitted), Calls: rs.Calls})
		if rs.ID != fmt.Sprint(emitted) || !bytes.Equal(rs.Encoded, want) {
			return fmt.Errorf("session %d handed out as %s, encoded %s; want %s", emitted, rs.ID, rs.Encoded, want)
		}
		return nil
	})
	if err != nil || emitted != sessions {
		t.Fatalf("%d sessions handed out, error %v; want %d", emitted, err, sessions)
	}
	refused := errors.New("cannot encode")
	_, err = ReplayStream(p, traces(), ReplayOptions{Workers: 2, Encode: func(ReplayedSession) ([]byte, error) { return nil, refused }},
		func(ReplayedSession) error { return nil })
	if !errors.Is(err, refused) {
		t.Errorf("error %v, want %v", err, refused)
	}
}

// TestReadBatch: a batch ends at the sessions asked for, at batchBytes of
// undecoded lines, or at next's error, keeping the sessions before it.
func TestReadBatch(t *testing.T) {
	broken := errors.New("line garbled")
	line := func(n int) []byte { return bytes.Repeat([]byte{'x'}, n) }
	tests := []struct {
		name    string
		raws    [][]byte // what next hands out, then errAt's error or io.EOF
		errAt   int      // the read that fails (1-based; 0: none)
		most    int
		want    int
		wantErr error
	}{
		{"count", [][]byte{nil, nil, nil, nil}, 0, 3, 3, nil},
		{"end of input", [][]byte{nil, nil}, 0, 5, 2, io.EOF},
		{"bytes", [][]byte{line(batchBytes / 2), line(batchBytes / 2), line(1)}, 0, 64, 2, nil},
		{"one line past the bound", [][]byte{line(batchBytes + 1), line(1)}, 0, 64, 1, nil},
		{"error keeps those before", [][]byte{nil, nil, nil}, 3, 64, 2, broken},
		{"error first", [][]byte{nil}, 1, 64, 0, broken},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n := 0
			next := func() (Trace, error) {
				n++
				if n == tt.errAt {
					return Trace{}, broken
				}
				if n > len(tt.raws) {
					return Trace{}, io.EOF
				}
				return Trace{Line: n, raw: tt.raws[n-1]}, nil
			}
			got, err := readBatch(next, tt.most)
			if len(got) != tt.want || !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("%d sessions, error %v; want %d, %v", len(got), err, tt.want, tt.wantErr)
			}
			for i, tr := range got {
				if tr.Line != i+1 {
					t.Errorf("session %d is line %d, want %d", i, tr.Line, i+1)
				}
			}
		})
	}
}
