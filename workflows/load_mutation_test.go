package workflows

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// TestParseLimits pins where each limit of the format starts: the smallest
// accepted value is accepted and the one just past it is an error.
func TestParseLimits(t *testing.T) {
	const graph = "start: [a]\nsteps:\n  - name: a\n    next: [a]\n"
	tests := []struct {
		name string
		src  string
		want string // "" when the workflow loads
	}{
		{"max_calls 0 means no call budget", "budget: {max_calls: 0}\n" + graph, ""},
		{"max_calls negative", "budget: {max_calls: -1}\n" + graph, "budget.max_calls must not be negative"},
		{"max_duration 0s", "budget: {max_duration: 0s}\n" + graph, `budget.max_duration "0s" is not a positive duration`},
		{"max_duration 1ns", "budget: {max_duration: 1ns}\n" + graph, ""},
		{"approval_timeout 0s", "start: [a]\nsteps:\n  - {name: a, approval_timeout: 0s, next: [a]}\n", `approval_timeout "0s" is not a positive duration`},
		{"approval_timeout 1s", "start: [a]\nsteps:\n  - {name: a, approval_timeout: 1s, next: [a]}\n", ""},
		{"burst 1", "throttle: {per_minute: 60, burst: 1}\n" + graph, ""},
		{"burst 0", "throttle: {per_minute: 60, burst: 0}\n" + graph, `throttle.burst "0" is not a whole number`},
		{"burst at the bound", "throttle: {per_minute: 60, burst: 1000000}\n" + graph, ""},
		{"burst past the bound", "throttle: {per_minute: 60, burst: 1000001}\n" + graph, `throttle.burst "1000001"`},
		{"only anytime steps", "anytime: [a]\nsteps:\n  - name: a\n", ""},
		{"neither start nor anytime", "steps:\n  - name: a\n    next: [a]\n", "no start steps and no anytime steps"},
		{"rule reads a variable no step binds", graph + "rules:\n  - {when: \"vars.zz == 1\", action: flag}\n", "rule uses unknown variable vars.zz"},
		{"rule reads a bound variable", "start: [a]\nsteps:\n  - {name: a, next: [a], bind: [{var: zz, set: \"args.x\"}]}\nrules:\n  - {when: \"vars.zz == 1\", action: flag}\n", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tc.src))
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("error %v, want the workflow to load", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
}

// TestParseNoStepsIsOneError: a workflow with no steps says so, without
// also complaining that it has no start steps.
func TestParseNoStepsIsOneError(t *testing.T) {
	_, err := Parse("w.yaml", []byte("agent: x\n"))
	var es Errors
	if !errors.As(err, &es) || len(es) != 1 || !strings.Contains(es[0].Msg, "the workflow has no steps") {
		t.Fatalf("Parse = %v, want the one error that the workflow has no steps", err)
	}
}

// TestParseErrorsInFileOrder: errors come sorted by line and column,
// whatever order the checks found them in: the start-step check runs last
// but reports at 1:1, and a step's on_violation is checked before its
// budget though written after it.
func TestParseErrorsInFileOrder(t *testing.T) {
	tests := []struct {
		src   string
		first string // where the first error must be
	}{
		{"steps:\n  - name: b c\n  - name: d\n    next: [nowhere]\n", "1:1"},
		{"start: [a]\nsteps:\n  - {name: a, budget: -1, on_violation: allow, next: [a]}\n", "3:6"},
	}
	for _, tc := range tests {
		_, err := Parse("w.yaml", []byte(tc.src))
		var es Errors
		if !errors.As(err, &es) || len(es) < 2 {
			t.Fatalf("Parse(%q) = %v, want at least two errors", tc.src, err)
		}
		for i := 1; i < len(es); i++ {
			a, b := es[i-1], es[i]
			if a.Line > b.Line || (a.Line == b.Line && a.Col > b.Col) {
				t.Fatalf("errors out of order:\n%v", err)
			}
		}
		if got := fmt.Sprintf("%d:%d", es[0].Line, es[0].Col); got != tc.first {
			t.Fatalf("first error at %s, want %s:\n%v", got, tc.first, err)
		}
	}
}

// TestStateKeepsRecentMax: the state keeps exactly the last recentMax
// events of a long session, newest last.
func TestStateKeepsRecentMax(t *testing.T) {
	w := parseTest(t, "start: [a]\nsteps:\n  - name: a\n    next: [a]\n")
	st := w.Start(SessionInfo{ID: "s", Started: t0})
	n := recentMax + 3
	for i := range n {
		_, st = w.Decide(st, Call{Tool: "a"}, t0.Add(time.Duration(i)*time.Second))
	}
	if len(st.Recent) != recentMax {
		t.Fatalf("kept %d events, want %d", len(st.Recent), recentMax)
	}
	if first, last := st.Recent[0].At, st.Recent[recentMax-1].At; !first.Equal(t0.Add(3*time.Second)) || !last.Equal(t0.Add(time.Duration(n-1)*time.Second)) {
		t.Fatalf("kept events from %v to %v, want the last %d", first, last, recentMax)
	}
}
