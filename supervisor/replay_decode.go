package supervisor

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"math/bits"
	"strconv"
	"strings"
	"unicode/utf8"
)

// decodeTrace decodes one JSONL line into tr exactly as json.Unmarshal
// would. encoding/json validates a line in full before decoding it and
// unquotes every result's text byte by byte through a state machine: that
// was about 40% of a replay. The fast path here reads a trace in one pass,
// copying strings without escapes as they are, and hands the rare typed
// values (times, signals, judgements) to encoding/json. Anything it does not read plainly (a duplicate or
// differently cased key, a value of the wrong type, invalid JSON or UTF-8,
// a lone surrogate) goes to json.Unmarshal for the whole line instead, so
// results and errors are encoding/json's (FuzzDecodeTrace checks it).
func decodeTrace(b []byte, tr *Trace) error {
	return decodeTraceRaw(b, tr, false, nil)
}

// decodeTraceRaw is decodeTrace that, with rawOutputs, leaves the outputs
// the fast path reads as their JSON strings (TraceCall.rawOutput, slices
// of b), to be unquoted once for each distinct text by the replay. known,
// if not nil, says whether an output's JSON string (quotes included) is
// one checked before: such an output is taken whole, not checked again.
func decodeTraceRaw(b []byte, tr *Trace, rawOutputs bool, known func(quoted []byte) bool) error {
	if fast, ok := fastTrace(b, rawOutputs, known); ok {
		*tr = fast
		return nil
	}
	*tr = Trace{}
	return json.Unmarshal(b, tr)
}

// fastTrace is the fast path of decodeTrace; false when the line needs
// json.Unmarshal.
func fastTrace(b []byte, rawOutputs bool, known func([]byte) bool) (Trace, bool) {
	s := scanner{b: b, rawOutputs: rawOutputs, known: known}
	var tr Trace
	ok := s.object(traceFields, func(key string) bool {
		switch key {
		case "id":
			return s.str(&tr.ID)
		case "agent":
			return s.str(&tr.Agent)
		case "task_id":
			return s.str(&tr.TaskID)
		case "suite":
			return s.str(&tr.Suite)
		case "intent":
			return s.str(&tr.Intent)
		case "prompt":
			return s.str(&tr.Prompt)
		case "calls":
			return s.calls(&tr.Calls)
		case "judgements":
			return s.delegate(&tr.Judgements)
		case "signals":
			return s.delegate(&tr.Signals)
		default: // "started"
			return s.delegate(&tr.Started)
		}
	})
	if !ok {
		return Trace{}, false
	}
	s.space()
	return tr, s.i == len(s.b)
}

// traceFields and callFields are the JSON names of Trace's and
// TraceCall's fields, space-separated.
const (
	traceFields = "id agent calls task_id suite intent prompt judgements signals started"
	callFields  = "kind tool args output structured_content description at"
)

// keyBit is key's bit in the set of keys an object has had: the bit of its
// place among fields; 0 when it names none of them exactly.
func keyBit(key, fields string) uint16 {
	for bit := uint16(1); fields != ""; bit <<= 1 {
		var name string
		name, fields, _ = strings.Cut(fields, " ")
		if name == key {
			return bit
		}
	}
	return 0
}

// calls reads the calls array; null leaves it nil, as encoding/json does.
func (s *scanner) calls(out *[]TraceCall) bool {
	if s.literal("null") {
		return true
	}
	calls := []TraceCall{}
	ok := s.seq('[', ']', func() bool {
		var c TraceCall
		calls = append(calls, c)
		return s.call(&calls[len(calls)-1])
	})
	*out = calls
	return ok
}

// call reads one call object.
func (s *scanner) call(c *TraceCall) bool {
	return s.object(callFields, func(key string) bool {
		switch key {
		case "kind":
			return s.str(&c.Kind)
		case "tool":
			return s.str(&c.Tool)
		case "description":
			return s.str(&c.Description)
		case "output":
			if s.literal("null") {
				return true
			}
			if s.rawOutputs {
				// Checked now, unquoted by the replay when it first sees
				// this text (parseShare.raw): most texts repeat.
				start := s.i
				if s.knownString() {
					c.rawOutput = s.b[start:s.i]
					return true
				}
				if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str(nil) {
					return false
				}
				c.rawOutput = s.b[start:s.i]
				return true
			}
			var text string
			if !s.str(&text) {
				return false
			}
			c.Output = &text
			return true
		case "args":
			if s.literal("null") {
				return true
			}
			if s.i >= len(s.b) || s.b[s.i] != '{' {
				return false
			}
			v, ok := s.any()
			c.Args, _ = v.(map[string]any)
			return ok
		case "structured_content":
			v, ok := s.any()
			c.Structured = v
			return ok
		default: // "at"
			return s.delegate(&c.At)
		}
	})
}

// scanner reads JSON from b at i. Each method reports false where the
// input is not what the fast path reads, leaving the line to encoding/json.
type scanner struct {
	b []byte
	i int
	// rawOutputs keeps each call's output as its JSON string
	// (TraceCall.rawOutput), for replay's workers, rather than unquoting it.
	rawOutputs bool
	// known, if not nil, says whether a JSON string is one checked before.
	known func(quoted []byte) bool
}

// knownString skips the JSON string at i if known says it was checked
// before: a history repeats its results, and finding a string's end and
// looking it up is several times cheaper than checking it byte by byte.
// A string that is not valid is never known, so it is still checked and
// fails as it would have.
func (s *scanner) knownString() bool {
	if s.known == nil || s.i >= len(s.b) || s.b[s.i] != '"' {
		return false
	}
	start := s.i
	s.i++
	end := s.rawEnd()
	if end < len(s.b) && s.known(s.b[start:end+1]) {
		s.i = end + 1
		return true
	}
	s.i = start
	return false
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\r', '\n':
			s.i++
		default:
			return
		}
	}
}

func (s *scanner) byte(c byte) bool {
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *scanner) literal(lit string) bool {
	if len(s.b)-s.i < len(lit) || string(s.b[s.i:s.i+len(lit)]) != lit {
		return false
	}
	s.i += len(lit)
	return true
}

// object reads an object of these fields (space-separated names),
// calling field at the value of each with its name, once: a duplicate key
// is left to encoding/json, as is a key that is a field's name only
// without regard to case; the value of any other key is skipped.
func (s *scanner) object(fields string, field func(name string) bool) bool {
	var seen uint16
	s.space()
	return s.seq('{', '}', func() bool {
		key, ok := s.key()
		if !ok {
			return false
		}
		bit := keyBit(key, fields)
		switch {
		case bit == 0:
			return s.unknown(key, fields)
		case seen&bit != 0:
			return false
		}
		seen |= bit
		return field(key)
	})
}

// seq reads the elements of an array or the members of an object,
// between open and close, calling each at each.
func (s *scanner) seq(open, close byte, each func() bool) bool {
	if !s.byte(open) {
		return false
	}
	s.space()
	if s.byte(close) {
		return true
	}
	for {
		s.space()
		if !each() {
			return false
		}
		s.space()
		if s.byte(close) {
			return true
		}
		if !s.byte(',') {
			return false
		}
	}
}

// key reads an object's key and the colon after it.
func (s *scanner) key() (string, bool) {
	var key string
	if s.i >= len(s.b) || s.b[s.i] != '"' || !s.str(&key) {
		return "", false
	}
	s.space()
	if !s.byte(':') {
		return "", false
	}
	s.space()
	return key, true
}

// unknown skips the value of a key that names no field, as encoding/json
// ignores it; a key that matches a field only without regard to case is
// left to encoding/json, which matches it.
func (s *scanner) unknown(key, fields string) bool {
	for fields != "" {
		var name string
		name, fields, _ = strings.Cut(fields, " ")
		if strings.EqualFold(key, name) {
			return false
		}
	}
	v, ok := s.value()
	return ok && json.Valid(v)
}

// any reads a value as encoding/json reads one into an interface{}:
// objects as map[string]any (the last of duplicate keys wins), arrays as
// []any, numbers as float64.
func (s *scanner) any() (any, bool) {
	if s.i >= len(s.b) {
		return nil, false
	}
	switch s.b[s.i] {
	case '{':
		m := map[string]any{}
		return m, s.seq('{', '}', func() bool {
			key, ok := s.key()
			if !ok {
				return false
			}
			v, ok := s.any()
			m[key] = v
			return ok
		})
	case '[':
		a := []any{}
		ok := s.seq('[', ']', func() bool {
			v, ok := s.any()
			a = append(a, v)
			return ok
		})
		return a, ok
	case '"':
		var str string
		return str, s.str(&str)
	case 't':
		return true, s.literal("true")
	case 'f':
		return false, s.literal("false")
	case 'n':
		return nil, s.literal("null")
	}
	return s.number()
}

// number reads a JSON number as a float64; one out of its range is left
// to encoding/json.
func (s *scanner) number() (any, bool) {
	start := s.i
	s.byte('-')
	switch {
	case s.byte('0'):
	case s.digits() == 0:
		return nil, false
	}
	if s.byte('.') && s.digits() == 0 {
		return nil, false
	}
	if s.byte('e') || s.byte('E') {
		if !s.byte('+') {
			s.byte('-')
		}
		if s.digits() == 0 {
			return nil, false
		}
	}
	f, err := strconv.ParseFloat(string(s.b[start:s.i]), 64)
	return f, err == nil
}

// digits moves past decimal digits and says how many.
func (s *scanner) digits() int {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i - start
}

// delegate decodes the next value into v with encoding/json.
func (s *scanner) delegate(v any) bool {
	raw, ok := s.value()
	return ok && json.Unmarshal(raw, v) == nil
}

// value is the extent of the next value, found by matching brackets
// outside strings; it is not validated (delegate and unknown do that).
func (s *scanner) value() ([]byte, bool) {
	s.space()
	start, depth := s.i, 0
	for s.i < len(s.b) {
		switch c := s.b[s.i]; c {
		case '"':
			if !s.skipString() {
				return nil, false
			}
			if depth == 0 {
				return s.b[start:s.i], true
			}
			continue
		case '{', '[':
			depth++
		case '}', ']':
			if depth == 0 {
				return s.b[start:s.i], s.i > start
			}
			depth--
			if depth == 0 {
				s.i++
				return s.b[start:s.i], true
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return s.b[start:s.i], s.i > start
			}
		}
		s.i++
	}
	return s.b[start:s.i], depth == 0 && s.i > start
}

// skipString moves past a string starting at i.
func (s *scanner) skipString() bool {
	for s.i++; s.i < len(s.b); s.i++ {
		switch s.b[s.i] {
		case '\\':
			s.i++
		case '"':
			s.i++
			return true
		}
	}
	return false
}

// str reads a string into out, or with out nil only checks it; null
// leaves out as it was, as encoding/json does.
func (s *scanner) str(out *string) bool {
	if s.literal("null") {
		return true
	}
	if !s.byte('"') {
		return false
	}
	start := s.i
	for s.i < len(s.b) {
		s.i += plainRun(s.b[s.i:])
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			if out != nil {
				*out = string(s.b[start:s.i])
			}
			s.i++
			return true
		case c == '\\' || c >= utf8.RuneSelf:
			return s.unquote(start, out)
		case c < ' ':
			return false
		}
		s.i++
	}
	return false
}

// unquote reads the rest of a string that has escapes or non-ASCII bytes,
// from start (after its quote) with the plain bytes up to i, into out, or
// with out nil only checks it. The text is built at its final size at
// once: the raw string bounds it.
func (s *scanner) unquote(start int, out *string) bool {
	var buf strings.Builder
	if out != nil {
		buf.Grow(s.rawEnd() - start)
	}
	run := start // the plain bytes not yet written start here
	for s.i < len(s.b) {
		s.i += plainRun(s.b[s.i:])
		if s.i == len(s.b) {
			break
		}
		c := s.b[s.i]
		switch {
		case c == '"':
			if out != nil {
				buf.Write(s.b[run:s.i])
				*out = buf.String()
			}
			s.i++
			return true
		case c == '\\':
			if out != nil {
				buf.Write(s.b[run:s.i])
			}
			r, ok := s.escape()
			if !ok {
				return false
			}
			if out != nil {
				buf.WriteRune(r)
			}
			run = s.i
			continue
		case c >= utf8.RuneSelf:
			r, n := utf8.DecodeRune(s.b[s.i:])
			if r == utf8.RuneError && n == 1 {
				return false // encoding/json replaces it; let it
			}
			s.i += n
			continue
		case c < ' ':
			return false
		}
		s.i++
	}
	return false
}

// plainRun is how many bytes at the start of b a string holds as they
// are: printable ASCII but the quote and the backslash. It looks at eight
// bytes at a time (results are mostly such text): a word has none of the
// others when no byte is under 0x20, equal to either, or over 0x7f.
func plainRun(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; len(b)-i >= 8; i += 8 {
		x := binary.LittleEndian.Uint64(b[i:])
		q := x ^ (ones * '"')
		bs := x ^ (ones * '\\')
		// The lowest byte flagged is exact: a borrow flags only bytes
		// above one that is.
		t := (x-ones*0x20)&^x | (q-ones)&^q | (bs-ones)&^bs | x
		if t &= highs; t != 0 {
			return i + bits.TrailingZeros64(t)/8
		}
	}
	for ; i < len(b); i++ {
		if c := b[i]; c < 0x20 || c == '"' || c == '\\' || c >= utf8.RuneSelf {
			break
		}
	}
	return i
}

// rawEnd is where the string i is in ends: its closing quote, the first
// not escaped by a backslash, or the end of the input.
func (s *scanner) rawEnd() int {
	for i := s.i; ; {
		q := bytes.IndexByte(s.b[i:], '"')
		if q < 0 {
			return len(s.b)
		}
		i += q
		escaped := false
		for j := i - 1; j >= s.i && s.b[j] == '\\'; j-- {
			escaped = !escaped
		}
		if !escaped {
			return i
		}
		i++
	}
}

// escape reads the escape at i, a backslash; a surrogate pair is one
// rune, a lone surrogate is left to encoding/json.
func (s *scanner) escape() (rune, bool) {
	if s.i+1 >= len(s.b) {
		return 0, false
	}
	c := s.b[s.i+1]
	s.i += 2
	switch c {
	case '"', '\\', '/':
		return rune(c), true
	case 'b':
		return '\b', true
	case 'f':
		return '\f', true
	case 'n':
		return '\n', true
	case 'r':
		return '\r', true
	case 't':
		return '\t', true
	case 'u':
		r, ok := s.hex4()
		switch {
		case !ok:
			return 0, false
		case r < 0xD800 || r > 0xDFFF:
			return r, true
		case r >= 0xDC00 || !s.literal(`\u`):
			return 0, false
		}
		lo, ok := s.hex4()
		if !ok || lo < 0xDC00 || lo > 0xDFFF {
			return 0, false
		}
		return 0x10000 + (r-0xD800)<<10 + (lo - 0xDC00), true
	}
	return 0, false
}

func (s *scanner) hex4() (rune, bool) {
	if s.i+4 > len(s.b) {
		return 0, false
	}
	var r rune
	for _, c := range s.b[s.i : s.i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	s.i += 4
	return r, true
}

// unquoteRaw is the text of a JSON string the fast path has checked
// (TraceCall.rawOutput).
func unquoteRaw(raw []byte) string {
	s := scanner{b: raw}
	var text string
	s.str(&text)
	return text
}
