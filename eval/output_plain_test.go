package eval

import (
	"bufio"
	"encoding/json"
	"os"
	"reflect"
	"testing"
)

// plainCases are texts plainText must send on to the YAML parser (false)
// or may keep (true).
var plainCases = []struct {
	text  string
	plain bool
}{
	{"The transaction was sent.", true},
	{"Rating: 4.5", false},
	{"key:", false},
	{"a:\tb", false},
	{"see https://example.com/a?b=c#d", true},
	{"line one\nline two", true},
	{"intro\n- item", false},
	{"  - item", false},
	{"? key", false},
	{"[a, b]", false},
	{"{a: b}", false},
	{"!!map", false},
	{"&a x", false},
	{"*a", false},
	{"%YAML 1.2\n---\na: b", false},
	{"---\na: b", false},
	{"text\r- item", false},
	{"text\u0085- item", false},
	{"text\u2028- item", false},
	{"\ufeffa: b", false},
	{"|\n  block", false},
	{"'quoted'", false},
	{"# comment", false},
	{"a\x00b", false},
	{"10:30 tomorrow", true},
}

// yamlCollection reports whether goccy/go-yaml reads text as a mapping or
// a sequence: what ParseOutput keeps of its YAML parse.
func yamlCollection(text string) bool {
	var v any
	if parseYAML(text, &v) != nil {
		return false
	}
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// TestPlainTextAsYAML: a text plainText keeps is one YAML reads as no
// collection, so ParseOutput gives what it gave with the parse, for the
// cases above and for every result of the AgentDojo corpus (of which the
// prose ones take the fast path).
func TestPlainTextAsYAML(t *testing.T) {
	for _, c := range plainCases {
		if got := plainText(c.text); got != c.plain {
			t.Errorf("plainText(%q) = %v, want %v", c.text, got, c.plain)
		}
		if c.plain && yamlCollection(c.text) {
			t.Errorf("plainText(%q) keeps a text YAML reads as a collection", c.text)
		}
	}
	plain := 0
	for _, o := range corpusOutputs(t) {
		if plainText(o) {
			plain++
		}
		if got, want := ParseOutput(o, nil), parseOutput(o, nil, func(string) bool { return false }); !reflect.DeepEqual(got, want) {
			t.Errorf("ParseOutput(%q) = %#v, the YAML parser gives %#v", o, got, want)
		}
	}
	if plain == 0 {
		t.Error("no result of the corpus takes the fast path")
	}
	t.Logf("%d of the corpus's results take the fast path", plain)
}

// FuzzPlainText: no text plainText keeps is read by YAML as a collection.
func FuzzPlainText(f *testing.F) {
	for _, c := range plainCases {
		f.Add(c.text)
	}
	for _, o := range corpusOutputs(f) {
		f.Add(o)
	}
	f.Fuzz(func(t *testing.T, text string) {
		if plainText(text) && yamlCollection(text) {
			t.Fatalf("plainText(%q) keeps a text YAML reads as a collection", text)
		}
	})
}

// corpusOutputs is the text of every result of the AgentDojo corpus.
func corpusOutputs(tb testing.TB) []string {
	tb.Helper()
	f, err := os.Open(corpusTasks)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { f.Close() })
	var out []string
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var task struct {
			Calls []struct {
				Output *string `json:"output"`
			} `json:"calls"`
		}
		if err := json.Unmarshal(sc.Bytes(), &task); err != nil {
			tb.Fatalf("%s: %v", corpusTasks, err)
		}
		for _, c := range task.Calls {
			if c.Output != nil {
				out = append(out, *c.Output)
			}
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}
