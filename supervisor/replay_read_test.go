package supervisor

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

// countingReader counts the reads asked of it.
type countingReader struct {
	r     io.Reader
	reads int
}

func (c *countingReader) Read(p []byte) (int, error) {
	c.reads++
	return c.r.Read(p)
}

// TestTraceReaderReadsLarge: the traces are read a MiB at a time, not in
// 64 KiB reads (a system call per few sessions of a history of hundreds of
// MB), and every line still comes out whole.
func TestTraceReaderReadsLarge(t *testing.T) {
	line := `{"id":"s","calls":[{"tool":"x","output":"` + strings.Repeat("y", 1000) + `"}]}` + "\n"
	const lines = 4 << 10 // about 4 MiB
	in := &countingReader{r: strings.NewReader(strings.Repeat(line, lines))}
	rd := NewTraceReader(in)
	n := 0
	for {
		tr, err := rd.Deferred()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if n++; !bytes.Equal(append(tr.raw, '\n'), []byte(line)) || tr.Line != n {
			t.Fatalf("line %d read as line %d, %q", n, tr.Line, tr.raw)
		}
	}
	if n != lines {
		t.Errorf("%d lines read, want %d", n, lines)
	}
	// 4 MiB in reads of a MiB, and the read that says the end.
	if in.reads > 8 {
		t.Errorf("%d reads for %d bytes, want at most 8", in.reads, lines*len(line))
	}
}
