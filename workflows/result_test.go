package workflows

import (
	"encoding/json"
	"testing"

	"github.com/warden-dev/warden"
)

// TestObserveParsesOnlyWhatIsRead: Observe parses a result only when one
// of the steps the call took binds from it, or a result rule may read it;
// a result nobody reads stays unparsed until last(tool) asks for it, and
// then reads as it would have eagerly, also in a marshalled state.
func TestObserveParsesOnlyWhatIsRead(t *testing.T) {
	const graph = `
start: [find, get]
steps:
  - name: find
    tool: find
    bind:
      - var: ids
        add: "map(result, .id)"
    next: ["*"]
  - name: get
    tool: get
    next: ["*"]
`
	tests := []struct {
		name   string
		extra  string
		tool   string
		parsed bool
	}{
		{"a step that binds from the result", "", "find", true},
		{"a step that binds nothing", "", "get", false},
		{"a result rule", "result_rules:\n  - {when: \"result != nil\", action: flag, reason: r}\n", "get", true},
	}
	const text = "- id: a7\n  name: x\n"
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := parseTest(t, graph+tt.extra)
			st := w.Start(SessionInfo{ID: "s", Started: t0})
			call := Call{Tool: tt.tool}
			d, st := w.Decide(st, call, t0)
			if d.Verdict != warden.Allow {
				t.Fatalf("%s: %s %q", tt.tool, d.Verdict, d.Reasons)
			}
			od, next := w.Observe(st, d.Steps, call, Result{Text: text}, t0)
			if got := od.Result().Done(); got != tt.parsed {
				t.Fatalf("parsed by Observe = %v, want %v", got, tt.parsed)
			}
			history{tools: next.Tools}.last(tt.tool)
			if !od.Result().Done() {
				t.Error("last(tool) did not parse the result")
			}
			raw, err := json.Marshal(next)
			if err != nil {
				t.Fatal(err)
			}
			var resumed State
			if err := json.Unmarshal(raw, &resumed); err != nil {
				t.Fatal(err)
			}
			want := normalise(od.Parsed())
			for name, s := range map[string]State{"kept": next, "resumed": resumed} {
				got := history{tools: s.Tools}.last(tt.tool)["result"]
				if g, w := mustJSON(t, got), mustJSON(t, want); g != w {
					t.Errorf("%s state: last(%s).result = %s, want %s", name, tt.tool, g, w)
				}
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
