package workflows

import (
	"math"
	"testing"
	"time"
)

// TestEnvKeepsStateOffTheHeap: building a call's expression environment
// from a State held by value (Decide and Observe take theirs so) costs no
// more allocations than from one already on the heap: the environment's
// helpers hold the tools' history, not the State, which would move each
// caller's copy of it to the heap. The helpers still answer from it.
func TestEnvKeepsStateOffTheHeap(t *testing.T) {
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	st := State{Tools: map[string]ToolHistory{"lookup": {Count: 2, LastAt: at}}, Calls: 2}
	call := Call{Tool: "lookup", Args: map[string]any{"id": "c1"}}
	now := at.Add(time.Minute)
	byValue := func(s State) bool { return s.Env(call, nil, now).Called("lookup") }
	onHeap := &st
	byPointer := func() bool { return onHeap.Env(call, nil, now).Called("lookup") }
	value := testing.AllocsPerRun(100, func() { byValue(st) })
	pointer := testing.AllocsPerRun(100, func() { byPointer() })
	if value > pointer {
		t.Errorf("Env from a State by value: %.0f allocations, from a pointer %.0f: the State escapes", value, pointer)
	}
	env := st.Env(call, nil, now)
	if !env.Called("lookup") || env.Count("lookup") != 2 || env.Since("lookup") != 60 || env.Called("send") {
		t.Errorf("helpers: called %v, count %d, since %v, called(send) %v; want true, 2, 60, false",
			env.Called("lookup"), env.Count("lookup"), env.Since("lookup"), env.Called("send"))
	}
}

// TestEnvOfFirstCallAllocatesOnlyItself: before a session's first call
// there is no history, and without provenance nothing to look up: the
// helpers are plain functions, and building the Env allocates the Env
// alone, where each helper was a closure of its own. They answer as the
// closures would.
func TestEnvOfFirstCallAllocatesOnlyItself(t *testing.T) {
	st := State{Vars: map[string]any{}}
	call := Call{Tool: "lookup", Args: map[string]any{"id": "c1"}}
	now := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	if n := testing.AllocsPerRun(100, func() { st.Env(call, nil, now) }); n > 1 {
		t.Errorf("Env of a first call without provenance: %.0f allocations, want 1", n)
	}
	env := st.Env(call, nil, now)
	if env.Called("lookup") || env.Count("lookup") != 0 || env.Last("lookup") != nil || env.Since("lookup") != math.MaxFloat64 ||
		env.From("c1") != "" || len(env.Sources("c1")) != 0 || env.Sources("c1") == nil {
		t.Errorf("helpers of an empty history: %v %d %v %v %q %v", env.Called("lookup"), env.Count("lookup"), env.Last("lookup"),
			env.Since("lookup"), env.From("c1"), env.Sources("c1"))
	}
}
