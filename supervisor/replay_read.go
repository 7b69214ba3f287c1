package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// maxTraceLine bounds one JSONL line (one whole session) when reading traces.
const maxTraceLine = 64 << 20

// TraceReader reads JSONL traces one session (one line) at a time, so that
// a replay holds the sessions it is replaying and not the whole history.
type TraceReader struct {
	sc   *bufio.Scanner
	line int
}

// NewTraceReader reads traces from r.
func NewTraceReader(r io.Reader) *TraceReader {
	sc := bufio.NewScanner(r)
	// Reads of a MiB: a week of history is hundreds of MB, and 64 KiB
	// reads cost a system call per few sessions.
	sc.Buffer(make([]byte, 0, 1<<20), maxTraceLine)
	return &TraceReader{sc: sc}
}

// Next is the next session, with its defaults (id, agent, line); io.EOF
// after the last. Blank lines are skipped; an error names the line.
func (rd *TraceReader) Next() (Trace, error) {
	tr, err := rd.Deferred()
	if err != nil {
		return Trace{}, err
	}
	return tr.decoded(false, nil)
}

// Deferred is Next with the decoding left to ReplayStream, which decodes
// each session on the worker that replays it, so that decoding (most of
// the cost of reading) runs on every core rather than on the reader's
// alone. What it hands out is for ReplayStream only: anything else reads
// the traces with Next.
func (rd *TraceReader) Deferred() (Trace, error) {
	for rd.sc.Scan() {
		rd.line++
		b := rd.sc.Bytes()
		if len(trimSpace(b)) == 0 {
			continue
		}
		// The scanner reuses its buffer: the line outlives this call.
		return Trace{Line: rd.line, raw: bytes.Clone(b)}, nil
	}
	if err := rd.sc.Err(); err != nil {
		return Trace{}, fmt.Errorf("traces line %d: %w", rd.line+1, err)
	}
	return Trace{}, io.EOF
}

// decoded is the trace a deferred one (TraceReader.Deferred) stands for,
// with its defaults (id, agent); a trace already decoded as it is. With
// rawOutputs, for replay's workers, outputs may be left as their JSON
// strings (TraceCall.rawOutput); without, every output is in Output.
// known is decodeTraceRaw's.
func (tr Trace) decoded(rawOutputs bool, known func([]byte) bool) (Trace, error) {
	if tr.raw == nil {
		return tr, nil
	}
	line, raw := tr.Line, tr.raw
	if err := decodeTraceRaw(raw, &tr, rawOutputs, known); err != nil {
		return Trace{}, fmt.Errorf("traces line %d: %w", line, err)
	}
	for i, c := range tr.Calls {
		if c.Tool == "" {
			return Trace{}, fmt.Errorf("traces line %d: call %d has no tool", line, i+1)
		}
	}
	if tr.ID == "" {
		tr.ID = tr.TaskID
	}
	if tr.ID == "" {
		tr.ID = strconv.Itoa(line)
	}
	if tr.Agent == "" {
		tr.Agent = tr.Suite
	}
	tr.Line, tr.raw = line, nil
	return tr, nil
}

// ReadTraces reads JSONL traces, one session a line (blank lines skipped).
// An error names the line. It holds every session: a replay reads them one
// at a time instead (TraceReader, ReplayStream).
func ReadTraces(r io.Reader) ([]Trace, error) {
	rd := NewTraceReader(r)
	var out []Trace
	for {
		tr, err := rd.Next()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		out = append(out, tr)
	}
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t' || b[0] == '\r') {
		b = b[1:]
	}
	return b
}
