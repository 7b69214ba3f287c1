package supervisor

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
	"testing/iotest"
)

// scanLines is what bufio.Scanner makes of input, the lines lineReader
// must hand out, and its error (nil at the end).
func scanLines(input string, max int) ([]string, error) {
	sc := bufio.NewScanner(strings.NewReader(input))
	sc.Buffer(nil, max)
	var out []string
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out, sc.Err()
}

// TestLineReaderAsScanner: lineReader hands out the lines bufio.Scanner
// does (CRLF, blank lines, a last line without a break, lines across its
// chunks, read a byte at a time or at once), every line still intact after
// those after it are read (it does not copy them, so it must never write
// a chunk again), and a line over the bound is bufio.ErrTooLong.
func TestLineReaderAsScanner(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var long strings.Builder
	for long.Len() < 3*lineChunk {
		line := strings.Repeat(string(rune('a'+rng.IntN(26))), rng.IntN(lineChunk/3))
		if rng.IntN(4) == 0 {
			line += "\r"
		}
		long.WriteString(line + "\n")
	}
	tests := []struct {
		name  string
		input string
		max   int
	}{
		{"empty", "", 1 << 20},
		{"lines", "a\nbb\n\nccc\n", 1 << 20},
		{"no last break", "a\nbb", 1 << 20},
		{"CRLF", "a\r\nb\r\n\r\n", 1 << 20},
		{"lone CR kept inside", "a\rb\n", 1 << 20},
		{"across chunks", long.String(), lineChunk},
		{"over the bound", "short\n" + strings.Repeat("x", 100) + "\nafter\n", 64},
	}
	for _, tt := range tests {
		for _, oneByte := range []bool{false, true} {
			want, wantErr := scanLines(tt.input, tt.max)
			var r io.Reader = strings.NewReader(tt.input)
			if oneByte {
				if len(tt.input) > 1<<16 {
					continue // a byte at a time is for the short inputs
				}
				r = iotest.OneByteReader(r)
			}
			lr := newLineReader(r, tt.max)
			var lines [][]byte
			var err error
			for {
				var b []byte
				if b, err = lr.next(); err != nil {
					break
				}
				lines = append(lines, b)
			}
			if errors.Is(err, io.EOF) {
				err = nil
			}
			if !errors.Is(err, wantErr) {
				t.Errorf("%s (a byte at a time: %v): error %v, want %v", tt.name, oneByte, err, wantErr)
			}
			if len(lines) != len(want) {
				t.Errorf("%s (a byte at a time: %v): %d lines, want %d", tt.name, oneByte, len(lines), len(want))
				continue
			}
			for i := range want {
				if !bytes.Equal(lines[i], []byte(want[i])) {
					t.Errorf("%s (a byte at a time: %v): line %d is %.40q, want %.40q", tt.name, oneByte, i+1, lines[i], want[i])
				}
			}
		}
	}
}

// TestLineReaderReadError: a read error other than the end comes after
// the whole lines read before it, and the part line before it is not
// handed out as a line.
func TestLineReaderReadError(t *testing.T) {
	broken := errors.New("disk gone")
	lr := newLineReader(iotest.DataErrReader(io.MultiReader(strings.NewReader("a\nb\npart"), iotest.ErrReader(broken))), 1<<20)
	var got []string
	var err error
	for {
		var b []byte
		if b, err = lr.next(); err != nil {
			break
		}
		got = append(got, string(b))
	}
	if !errors.Is(err, broken) || strings.Join(got, ",") != "a,b" {
		t.Errorf("lines %q, error %v; want a, b, then %v", got, err, broken)
	}
}
