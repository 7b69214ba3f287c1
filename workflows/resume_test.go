package workflows

import (
	"slices"
	"testing"
)

func TestResumeKeepsExistingSteps(t *testing.T) {
	old, err := Parse("old.yaml", []byte(`
agent: a
start: [one]
terminal: [two]
steps:
  - {name: one, tool: t1, next: [two]}
  - {name: two, tool: t2}
`))
	if err != nil {
		t.Fatal(err)
	}
	renamed, err := Parse("new.yaml", []byte(`
agent: a
start: [uno]
terminal: [two]
steps:
  - {name: uno, tool: t1, next: [two]}
  - {name: two, tool: t2}
`))
	if err != nil {
		t.Fatal(err)
	}
	st := State{Steps: []string{"one", "two"}, Vars: map[string]any{"x": 1.0}, Calls: 3}
	got := renamed.Resume(st)
	if !slices.Equal(got.Steps, []string{"two"}) || got.Calls != 3 || got.Vars["x"] != 1.0 {
		t.Fatalf("Resume = %+v, want steps [two] and the rest kept", got)
	}
	if !slices.Equal(st.Steps, []string{"one", "two"}) {
		t.Fatalf("Resume changed its input: %v", st.Steps)
	}
	gone := renamed.Resume(State{Steps: []string{"one"}})
	if !slices.Equal(gone.Steps, []string{startStep}) {
		t.Fatalf("Resume of a vanished step = %v, want the start", gone.Steps)
	}
	if got := old.Resume(State{Steps: []string{"one"}}); !slices.Equal(got.Steps, []string{"one"}) {
		t.Fatalf("Resume on the same workflow moved the session: %v", got.Steps)
	}
}
