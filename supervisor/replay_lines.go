package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"io"
)

// lineChunk is how much of the input a lineReader reads at a time.
const lineChunk = 256 << 10

// lineReader hands out the lines of r (without their line break, a
// trailing CR dropped, as bufio.ScanLines) as slices of the chunks it
// reads, which it never writes again: a line outlives the next one
// without a copy of its own, so the one reader of a replay does little
// more than find line breaks. Only a line's start that straddles a chunk's
// end is copied, into the next chunk.
type lineReader struct {
	r          io.Reader
	buf        []byte // the current chunk; buf[start:] is not handed out yet
	start, max int
	err        error // r's, once it has returned one; lines before it come first
}

func newLineReader(r io.Reader, max int) *lineReader { return &lineReader{r: r, max: max} }

// next is the next line; io.EOF after the last, bufio.ErrTooLong for a
// line of max bytes or more.
func (l *lineReader) next() ([]byte, error) {
	for {
		rest := l.buf[l.start:]
		i := bytes.IndexByte(rest, '\n')
		if i >= l.max || i < 0 && len(rest) >= l.max {
			return nil, bufio.ErrTooLong
		}
		if i >= 0 {
			l.start += i + 1
			return dropCR(rest[:i:i]), nil
		}
		if errors.Is(l.err, io.EOF) {
			if len(rest) > 0 { // the last line, with no line break
				l.start = len(l.buf)
				return dropCR(rest[:len(rest):len(rest)]), nil
			}
			return nil, io.EOF
		}
		if l.err != nil {
			return nil, l.err
		}
		l.fill(rest)
	}
}

// fill reads more after rest, the part of the current chunk not handed
// out: into the chunk's free space, or a new chunk that starts with rest.
func (l *lineReader) fill(rest []byte) {
	if len(l.buf) == cap(l.buf) {
		chunk := make([]byte, len(rest), max(lineChunk, 2*len(rest)))
		copy(chunk, rest)
		l.buf, l.start = chunk, 0
	}
	for range 100 { // as bufio.Scanner, give up on a reader that reads nothing
		n, err := l.r.Read(l.buf[len(l.buf):cap(l.buf)])
		l.buf = l.buf[:len(l.buf)+n]
		if n > 0 || err != nil {
			l.err = err
			return
		}
	}
	l.err = io.ErrNoProgress
}

func dropCR(b []byte) []byte {
	if len(b) > 0 && b[len(b)-1] == '\r' {
		return b[:len(b)-1]
	}
	return b
}
