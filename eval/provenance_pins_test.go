package eval

import (
	"reflect"
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
