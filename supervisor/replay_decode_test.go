package supervisor

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// corpusLines are the lines of the recorded traces in the repository: the
// AgentDojo benign tasks, as stored and as replay traces, and the attacks.
func corpusLines(t testing.TB) [][]byte {
	t.Helper()
	var lines [][]byte
	files := [][]byte{agentdojoTraces(t)}
	for _, name := range []string{agentdojoTasks, filepath.Join("..", "examples", "agentdojo", "attacks", "traces.jsonl")} {
		b, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, b)
	}
	for _, b := range files {
		for _, l := range bytes.Split(b, []byte("\n")) {
			if len(bytes.TrimSpace(l)) > 0 {
				lines = append(lines, l)
			}
		}
	}
	return lines
}

// sameAsStdlib fails t unless decodeTrace decodes b as json.Unmarshal
// does: the same trace, or the same error.
func sameAsStdlib(t *testing.T, b []byte) {
	t.Helper()
	var want, got Trace
	werr := json.Unmarshal(b, &want)
	gerr := decodeTrace(b, &got)
	if (werr == nil) != (gerr == nil) || (werr != nil && werr.Error() != gerr.Error()) {
		t.Fatalf("decodeTrace(%q) error %v, json.Unmarshal %v", b, gerr, werr)
	}
	if werr == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("decodeTrace(%q) = %+v, json.Unmarshal %+v", b, got, want)
	}
	// Outputs left as JSON strings for replay's workers are the same
	// texts, once unquoted.
	var raw Trace
	if rerr := decodeTraceRaw(b, &raw, true, nil); (rerr == nil) != (werr == nil) {
		t.Fatalf("decodeTraceRaw(%q) error %v, json.Unmarshal %v", b, rerr, werr)
	}
	// Outputs known from that decoding are taken whole, and give the
	// same trace again.
	checked := map[string]bool{}
	for _, c := range raw.Calls {
		if c.rawOutput != nil {
			checked[string(c.rawOutput)] = true
		}
	}
	var again Trace
	aerr := decodeTraceRaw(b, &again, true, func(q []byte) bool { return checked[string(q)] })
	if (aerr == nil) != (werr == nil) || !reflect.DeepEqual(again, raw) {
		t.Fatalf("decodeTraceRaw(%q) with its outputs known = %+v, %v; without %+v", b, again, aerr, raw)
	}
	for i := range raw.Calls {
		if c := &raw.Calls[i]; c.rawOutput != nil {
			if c.Output != nil {
				t.Fatalf("decodeTraceRaw(%q): call %d has both output forms", b, i)
			}
			text := unquoteRaw(c.rawOutput)
			c.Output, c.rawOutput = &text, nil
		}
	}
	if werr == nil && !reflect.DeepEqual(raw, want) {
		t.Fatalf("decodeTraceRaw(%q) = %+v, json.Unmarshal %+v", b, raw, want)
	}
}

// Every recorded trace is read by the fast path, and read as
// encoding/json reads it.
func TestDecodeTraceCorpus(t *testing.T) {
	lines := corpusLines(t)
	if len(lines) < 200 {
		t.Fatalf("%d corpus lines", len(lines))
	}
	for _, l := range lines {
		if _, ok := fastTrace(l, false, nil); !ok {
			t.Errorf("fast path refused %.80s", l)
		}
		sameAsStdlib(t, l)
	}
}

// Edge cases and malformed lines: the fast path reads what it reads as
// encoding/json does, and leaves the rest (with encoding/json's errors).
func TestDecodeTraceEdges(t *testing.T) {
	tests := []struct {
		name string
		in   string
		fast bool // read by the fast path
	}{
		{"empty object", `{}`, true},
		{"escapes", `{"id":"a\"b\\c\/d\b\f\n\r\t","calls":[{"tool":"t","output":"x\u00e9\u2019\ud83d\ude00y"}]}`, true},
		{"utf-8", `{"id":"é€😀","calls":[{"tool":"ü"}]}`, true},
		{"null output", `{"calls":[{"tool":"t","output":null}]}`, true},
		{"null strings", `{"id":null,"calls":[{"tool":null,"kind":null}]}`, true},
		{"null calls", `{"calls":null}`, true},
		{"empty calls", `{"calls":[]}`, true},
		{"unknown fields", ` {"x":{"a":[1,"]}",{"b":null}]},"y":-1.5e3,"z":"}","w":true,"calls":[{"tool":"t","n":[]}]} `, true},
		{"delegated", `{"started":"2025-01-01T00:00:00Z","signals":[{"before":1,"kind":"ip_change"}],"judgements":[{"model":"m"}],"calls":[{"tool":"t","args":{"a":1,"b":[true,null,"s"]},"structured_content":{"k":"v"},"at":"2025-01-01T00:00:01Z"}]}`, true},
		{"whitespace", "\t{ \"id\" : \"a\" ,\r\n \"calls\" : [ { \"tool\" : \"t\" } ] }\r", true},
		{"args values", `{"calls":[{"tool":"t","args":{"a":-0,"b":1.5e-3,"c":2E+2,"d":[[],{},[null]],"e":"\u00e9","a":"again"},"structured_content":[1,{"x":false}]}]}`, true},
		{"null args", `{"calls":[{"tool":"t","args":null,"structured_content":null}]}`, true},
		{"scalar structured", `{"calls":[{"tool":"t","structured_content":12}]}`, true},
		{"huge number", `{"calls":[{"tool":"t","args":{"a":1e400}}]}`, false},
		{"bare minus", `{"calls":[{"tool":"t","args":{"a":-}}]}`, false},
		{"leading zero", `{"calls":[{"tool":"t","args":{"a":01}}]}`, false},
		{"bare point", `{"calls":[{"tool":"t","args":{"a":1.}}]}`, false},
		{"bare exponent", `{"calls":[{"tool":"t","args":{"a":1e}}]}`, false},
		{"args string", `{"calls":[{"tool":"t","args":"a"}]}`, false},
		{"args unclosed", `{"calls":[{"tool":"t","args":{"a":[1,2}}]}`, false},
		{"args bad literal", `{"calls":[{"tool":"t","args":{"a":tru}}]}`, false},
		{"duplicate key", `{"id":"a","id":"b"}`, false},
		{"duplicate args", `{"calls":[{"tool":"t","args":{"a":1},"args":{"b":2}}]}`, false},
		{"case-folded key", `{"ID":"a","calls":[{"Tool":"t"}]}`, false},
		{"kelvin key", "{\"tas\u212a_id\":\"a\"}", false},
		{"escaped key", `{"\u0069d":"a"}`, true},
		{"lone surrogate", `{"id":"\ud83d"}`, false},
		{"low surrogate first", `{"id":"\ude00\ud83d"}`, false},
		{"invalid utf-8", "{\"id\":\"a\xffb\"}", false},
		{"control char", "{\"id\":\"a\nb\"}", false},
		{"bad escape", `{"id":"a\qb"}`, false},
		{"short unicode", `{"id":"\u12"}`, false},
		{"number id", `{"id":5}`, false},
		{"calls object", `{"calls":{}}`, false},
		{"calls number", `{"calls":5}`, false},
		{"call not object", `{"calls":[5]}`, false},
		{"null call", `{"calls":[null]}`, false},
		{"args array", `{"calls":[{"tool":"t","args":[1]}]}`, false},
		{"bad time", `{"started":"yesterday"}`, false},
		{"trailing comma", `{"id":"a",}`, false},
		{"trailing call comma", `{"calls":[{"tool":"t"},]}`, false},
		{"missing colon", `{"id" "a"}`, false},
		{"null key", `{null:"a"}`, false},
		{"trailing data", `{"id":"a"} x`, false},
		{"two objects", `{"id":"a"}{"id":"b"}`, false},
		{"unterminated", `{"id":"a`, false},
		{"unterminated object", `{"id":"a"`, false},
		{"bad unknown", `{"x":[1,}`, false},
		{"bad unknown number", `{"x":01}`, false},
		{"bad unknown literal", `{"x":nul}`, false},
		{"mismatched brackets", `{"x":{]}`, false},
		{"null line", `null`, false},
		{"array line", `[]`, false},
		{"bad json", `{bad json}`, false},
		{"empty value", `{"x":}`, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if _, ok := fastTrace([]byte(tc.in), false, nil); ok != tc.fast {
				t.Errorf("fast path took it: %v, want %v", ok, tc.fast)
			}
			sameAsStdlib(t, []byte(tc.in))
		})
	}
}

// FuzzDecodeTrace checks decodeTrace against json.Unmarshal on any input.
func FuzzDecodeTrace(f *testing.F) {
	for _, l := range corpusLines(f)[:20] {
		f.Add(l)
	}
	f.Add([]byte(`{"id":"a\u00e9\ud83d\ude00","calls":[{"tool":"t","args":{"a":1},"output":null,"x":[{}]}]}`))
	f.Add([]byte(`{"ID":"a","id":"b","calls":[{"Tool":"t"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) { sameAsStdlib(t, b) })
}

// BenchmarkDecodeTrace decodes the corpus's traces with decodeTrace, as
// replay's workers do (outputs left as JSON strings) and, side by side,
// with encoding/json.
func BenchmarkDecodeTrace(b *testing.B) {
	lines := corpusLines(b)
	size := 0
	for _, l := range lines {
		size += len(l)
	}
	for _, bc := range []struct {
		name   string
		decode func([]byte, *Trace) error
	}{
		{"decodeTrace", decodeTrace},
		{"decodeTrace-raw-outputs", func(l []byte, tr *Trace) error { return decodeTraceRaw(l, tr, true, nil) }},
		{"encoding-json", func(l []byte, tr *Trace) error { return json.Unmarshal(l, tr) }},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(size))
			cpu0 := cpuTime()
			for b.Loop() {
				for _, l := range lines {
					var tr Trace
					if err := bc.decode(l, &tr); err != nil {
						b.Fatal(err)
					}
				}
			}
			// CPU time, as the replay benchmarks report it: wall time says
			// little on a shared machine.
			if cpu := (cpuTime() - cpu0).Seconds(); cpu > 0 {
				b.ReportMetric(float64(size)*float64(b.N)/cpu/1e6, "MB/cpu-s")
			}
		})
	}
}

// TestPlainRun: the word-at-a-time scan stops where the byte-at-a-time
// one does, at every offset and for every byte.
func TestPlainRun(t *testing.T) {
	for c := range 256 {
		for at := range 20 {
			b := bytes.Repeat([]byte("a"), 24)
			b[at] = byte(c)
			want := 24
			if c < 0x20 || c == '"' || c == '\\' || c >= 0x80 {
				want = at
			}
			if got := plainRun(b); got != want {
				t.Fatalf("byte %#x at %d: plainRun %d, want %d", c, at, got, want)
			}
		}
	}
}

// TestReadTracesOutputs: traces read for anything but replay's workers
// (ReadTraces, TraceReader.Next: warden learn) carry every output as
// text, never only as its JSON string.
func TestReadTracesOutputs(t *testing.T) {
	in := "{\"calls\": [{\"tool\": \"a\", \"output\": \"x\\ny\"}, {\"tool\": \"b\", \"output\": null}]}\n"
	trs, err := ReadTraces(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	c := trs[0].Calls
	if c[0].Output == nil || *c[0].Output != "x\ny" || c[0].rawOutput != nil || c[1].Output != nil || c[1].rawOutput != nil {
		t.Errorf("outputs %+v, want \"x\\ny\" as text and none", c)
	}
}

// TestDecodeTraceKnownOutputs: replay's workers ask whether each output's
// JSON string (quotes included, escaped quotes inside) was checked before,
// take a known one whole and check the others; what follows a known
// string is still read, and a line broken after it still fails.
func TestDecodeTraceKnownOutputs(t *testing.T) {
	seen := `"x \"q\" \\"`
	tests := []struct {
		name    string
		line    string
		asked   []string
		outputs []string
		fails   bool
	}{
		{"known and not", `{"calls":[{"tool":"a","output":` + seen + `},{"tool":"b","output":"new"}]}`,
			[]string{seen, `"new"`}, []string{seen, `"new"`}, false},
		{"broken after a known one", `{"calls":[{"tool":"a","output":` + seen + `,}]}`, []string{seen}, nil, true},
		{"unterminated", `{"calls":[{"tool":"a","output":"x`, nil, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var asked []string
			known := func(q []byte) bool {
				asked = append(asked, string(q))
				return string(q) == seen
			}
			var tr Trace
			err := decodeTraceRaw([]byte(tt.line), &tr, true, known)
			if (err != nil) != tt.fails {
				t.Fatalf("error %v, want failure %v", err, tt.fails)
			}
			if !reflect.DeepEqual(asked, tt.asked) {
				t.Errorf("asked %q, want %q", asked, tt.asked)
			}
			var outputs []string
			for _, c := range tr.Calls {
				outputs = append(outputs, string(c.rawOutput))
			}
			if !tt.fails && !reflect.DeepEqual(outputs, tt.outputs) {
				t.Errorf("outputs %q, want %q", outputs, tt.outputs)
			}
		})
	}
}
