package eval

import (
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// TestPinsStartSessions: sessions started from one Pins answer as
// sessions started with NewProvenance, each with its own seed and index:
// what one session observes is not another's. The corpus's prompts and
// arguments are the texts and the values looked up.
func TestPinsStartSessions(t *testing.T) {
	outs := loadOutputs(t)
	config := []string{"emma.johnson@bluesparrowtech.com", "US122000000121212121212", "+1 (555) 010-2000"}
	for _, o := range outs {
		pins := NewPins(o.Prompt, config)
		a, b := pins.Provenance(), pins.Provenance()
		if a.seed == b.seed {
			t.Fatal("two sessions from one Pins share a hash seed")
		}
		a.Observe(o.Tool, nil, o.Output)
		for _, v := range append(leafValues(o.Args), "emma.johnson@bluesparrowtech.com", "5550102000") {
			fresh := NewProvenance(o.Prompt, config)
			if got, want := b.From(v), fresh.From(v); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: From(%v) = %v from Pins, %v from NewProvenance", o.TaskID, v, got, want)
			}
			fresh.Observe(o.Tool, nil, o.Output)
			if got, want := a.From(v), fresh.From(v); !reflect.DeepEqual(got, want) {
				t.Fatalf("%s after a result: From(%v) = %v from Pins, %v from NewProvenance", o.TaskID, v, got, want)
			}
		}
	}
}

// leafValues are the scalars of args.
func leafValues(args map[string]any) []any {
	var out []any
	for _, v := range args {
		forLeaves(v, 0, func(leaf any) bool { out = append(out, leaf); return true })
	}
	return out
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
