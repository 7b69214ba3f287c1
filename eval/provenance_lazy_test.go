package eval

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
)

// needsParse says whether indexing text needs its YAML: it is not JSON,
// nor empty, nor too long to parse.
func needsParse(text string) bool {
	t := strings.TrimSpace(text)
	return t != "" && len(text) <= maxScan && !json.Valid([]byte(t))
}

// TestObserveResultIndexesAsObserve: a result handed over unparsed
// (ObserveResult) is indexed exactly as Observe indexes its text, and is
// parsed only where the index needs the parse: when a lookup comes, and
// then only for text that is not JSON.
func TestObserveResultIndexesAsObserve(t *testing.T) {
	tests := []struct {
		name   string
		text   string
		parsed bool // whether indexing parses it
	}{
		{"yaml", "- a: 1\n  b: x@y.com\n", true},
		{"prose", "Send the money to: GB29NWBK60161331926819 today.", true},
		{"json", `{"email": "a@b.com", "n": 12345678901234567890}`, false},
		{"empty", "", false},
	}
	for _, o := range loadOutputs(t) {
		tests = append(tests, struct {
			name   string
			text   string
			parsed bool
		}{o.TaskID + "/" + o.Tool, o.Output, needsParse(o.Output)})
	}
	for _, tt := range tests {
		plain, lazy := NewProvenance("", nil), NewProvenance("", nil)
		lazy.seed = plain.seed
		lazy.DeferIndexing()
		plain.Observe("t", nil, tt.text)
		r := NewParsedResult(tt.text, nil)
		lazy.ObserveResult("t", r)
		if r.Done() {
			t.Fatalf("%s: parsed before any lookup", tt.name)
		}
		lazy.From("x@y.com") // a lookup walks what waits
		if r.Done() != tt.parsed {
			t.Errorf("%s: parsed = %v after a lookup, want %v", tt.name, r.Done(), tt.parsed)
		}
		plain.index()
		lazy.index() // lookups answered from what waits leave it unindexed
		if !reflect.DeepEqual(plain.values, lazy.values) || !slices.Equal(plain.names, lazy.names) {
			t.Errorf("%.60q: indexed %d values from %q unparsed, %d from %q by Observe", tt.text, len(lazy.values), lazy.names, len(plain.values), plain.names)
		}
	}
}

// TestParsedResultParsesOnce: Value is ParseOutput, made on the first
// call and shared by every later one.
func TestParsedResultParsesOnce(t *testing.T) {
	text := "- id_: '7'\n  subject: hi\n"
	r := NewParsedResult(text, nil)
	if r.Done() {
		t.Fatal("parsed when made")
	}
	first := r.Value()
	if !r.Done() || !reflect.DeepEqual(first, ParseOutput(text, nil)) {
		t.Fatalf("Value() = %#v, done %v", first, r.Done())
	}
	if reflect.ValueOf(r.Value()).Pointer() != reflect.ValueOf(first).Pointer() {
		t.Error("a second Value parsed again")
	}
}

// TestSharedResultIndexesInEachSession: a result shared across sessions is
// walked once for a tool, and each session's index of it (keyed by its own
// seed) finds what Observe would; the same text from another tool is
// walked again, under that tool's names.
func TestSharedResultIndexesInEachSession(t *testing.T) {
	const text = "- email: a@b.com\n  note: write to x@y.com\n"
	r := NewParsedResult(text, nil)
	tests := []struct {
		tool string
		want map[string][]string
	}{
		{"get_contacts", map[string][]string{"a@b.com": {"result:get_contacts.email"}, "x@y.com": {"text:get_contacts"}}},
		{"get_contacts", map[string][]string{"a@b.com": {"result:get_contacts.email"}, "x@y.com": {"text:get_contacts"}}},
		{"read_inbox", map[string][]string{"a@b.com": {"result:read_inbox.email"}, "x@y.com": {"text:read_inbox"}}},
	}
	var walked *extraction
	for i, tt := range tests {
		p := NewProvenance("", nil)
		p.DeferIndexing()
		p.ObserveResult(tt.tool, r)
		for v, want := range tt.want {
			if got := p.From(v); !slices.Equal(got, want) {
				t.Errorf("session %d: From(%s) = %q, want %q", i, v, got, want)
			}
		}
		if again := r.extracted == walked; again != (i == 1) {
			t.Errorf("session %d (%s): walk reused = %v", i, tt.tool, again)
		}
		walked = r.extracted
	}
}

// TestLookPendingAsIndexed: a session that defers indexing answers its
// lookups among the results it has not indexed as a session that indexes
// each result at once, for every value of the corpus's arguments after
// each task's results, and past the index's bounds (where it indexes).
func TestLookPendingAsIndexed(t *testing.T) {
	outs := loadOutputs(t)
	byTask := map[string][]corpusOutput{}
	var tasks []string
	for _, o := range outs {
		if byTask[o.TaskID] == nil {
			tasks = append(tasks, o.TaskID)
		}
		byTask[o.TaskID] = append(byTask[o.TaskID], o)
	}
	check := func(name string, results []corpusOutput, values []any, mustLook bool) {
		t.Helper()
		lazy, eager := NewProvenance(results[0].Prompt, nil), NewProvenance(results[0].Prompt, nil)
		lazy.DeferIndexing()
		for _, o := range results {
			lazy.ObserveResult(o.Tool, NewParsedResult(o.Output, nil))
			eager.Observe(o.Tool, nil, o.Output)
		}
		looked := false
		for _, v := range values {
			if got, want := lazy.From(v), eager.From(v); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: From(%v) = %v without indexing, %v indexed", name, v, got, want)
			}
			looked = looked || len(lazy.values) == 0
		}
		if !looked && mustLook {
			t.Fatalf("%s: every lookup indexed", name)
		}
	}
	var all []corpusOutput
	for _, task := range tasks {
		var values []any
		for _, o := range byTask[task] {
			values = append(values, leafValues(o.Args)...)
		}
		check(task, byTask[task], values, true)
		all = append(all, byTask[task]...)
	}
	// The whole corpus in one session: past maxPending, more values and
	// source names than the index keeps, and values with many sources.
	var values []any
	for _, o := range all {
		values = append(values, leafValues(o.Args)...)
	}
	check("all", all, append(values, "2024-05-15", "1", "true"), false)

	// Each bound of the index, within maxPending results.
	var many, sources []corpusOutput
	for i := range maxPerValue + 2 {
		many = append(many, corpusOutput{Tool: fmt.Sprint("t", i), Output: "write to x@y.com"})
	}
	check("more sources than an entry holds", many, []any{"x@y.com"}, false)
	var emails, keys strings.Builder
	keys.WriteString("{")
	for i := range maxValues + 100 {
		fmt.Fprintf(&emails, "a%d@x.com ", i)
	}
	for i := range maxSources + 50 {
		fmt.Fprintf(&keys, "%q: %q,", fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	keys.WriteString(`"end": "end"}`)
	sources = append(sources, corpusOutput{Tool: "t", Output: keys.String()})
	check("more values than the index keeps", []corpusOutput{{Tool: "t", Output: emails.String()}}, []any{"a0@x.com", "a5@x.com", "a4150@x.com"}, false)
	check("more source names than the index keeps", sources, []any{"v0", "v999", "end"}, false)
}
