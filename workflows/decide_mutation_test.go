package workflows

import (
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

func parseTest(t *testing.T, src string) *Workflow {
	t.Helper()
	w, err := Parse("w.yaml", []byte(src))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return w
}

// TestDecideInitialVars: the workflow's vars are there from the first call,
// so a guard on them can accept it.
func TestDecideInitialVars(t *testing.T) {
	w := parseTest(t, `
vars: {payees: [alice]}
on_violation: deny
start: [pay]
steps:
  - name: pay
    tool: pay
    guard: "args.to in vars.payees"
    next: [pay]
`)
	st := w.Start(SessionInfo{ID: "s", Started: t0})
	for _, tc := range []struct {
		to   string
		want warden.Verdict
	}{{"alice", warden.Allow}, {"mallory", warden.Deny}} {
		d, _ := w.Decide(st, Call{Tool: "pay", Args: map[string]any{"to": tc.to}}, t0)
		if d.Verdict != tc.want {
			t.Errorf("pay to %s: %s %q, want %s", tc.to, d.Verdict, d.Reasons, tc.want)
		}
	}
}

// TestDecideDurationBudget: budget.max_duration is the time a session may
// run; a call past it gets on_exceed, a call within it (or in a workflow
// with no duration budget, or a session whose start is unknown) does not.
func TestDecideDurationBudget(t *testing.T) {
	const graph = `
start: [a]
steps:
  - name: a
    tool: a
    next: [a]
`
	limited := parseTest(t, "budget: {max_duration: 1m, on_exceed: kill}\n"+graph)
	unlimited := parseTest(t, graph)
	tests := []struct {
		name    string
		w       *Workflow
		started time.Time
		now     time.Time
		want    warden.Verdict
	}{
		{"within", limited, t0, t0.Add(59 * time.Second), warden.Allow},
		{"exactly at the limit", limited, t0, t0.Add(time.Minute), warden.Allow},
		{"past the limit", limited, t0, t0.Add(time.Minute + time.Nanosecond), warden.Kill},
		{"start unknown", limited, time.Time{}, t0.Add(time.Hour), warden.Allow},
		{"no duration budget", unlimited, t0, t0.Add(24 * time.Hour), warden.Allow},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			st := tc.w.Start(SessionInfo{ID: "s", Started: tc.started})
			d, _ := tc.w.Decide(st, Call{Tool: "a"}, tc.now)
			if d.Verdict != tc.want {
				t.Fatalf("verdict %s %q, want %s", d.Verdict, d.Reasons, tc.want)
			}
			if tc.want == warden.Kill && !strings.Contains(strings.Join(d.Reasons, "|"), "elapsed of 1m0s") {
				t.Fatalf("reasons %q do not say the duration budget was spent", d.Reasons)
			}
		})
	}
}

// TestDecideGuardReasonNamesDescription: a refused call's reason carries
// the step's description when it has one, as the human-readable why.
func TestDecideGuardReasonNamesDescription(t *testing.T) {
	w := parseTest(t, `
start: [refund, read]
terminal: [refund, read]
steps:
  - name: refund
    tool: refund
    description: money back only to the buyer
    guard: "args.to == 'buyer'"
  - name: read
    tool: read
    guard: "args.n < 3"
`)
	tests := []struct {
		tool string
		args map[string]any
		want string
	}{
		{"refund", map[string]any{"to": "x"}, `step "refund" (money back only to the buyer): guard is false: args.to == 'buyer'`},
		{"read", map[string]any{"n": 5.0}, `step "read": guard is false: args.n < 3`},
	}
	for _, tc := range tests {
		st := w.Start(SessionInfo{ID: "s", Started: t0})
		d, _ := w.Decide(st, Call{Tool: tc.tool, Args: tc.args}, t0)
		if d.Verdict != warden.StepUp || len(d.Reasons) != 1 || d.Reasons[0] != tc.want {
			t.Errorf("%s: %s %q, want step_up [%q]", tc.tool, d.Verdict, d.Reasons, tc.want)
		}
	}
}

// TestObserveStepAndLastResult: Observe names the step the call took (none
// when it took none), and keeps the result for last(tool) up to
// lastResultMax bytes of text; a larger one is not kept.
func TestObserveStepAndLastResult(t *testing.T) {
	w := parseTest(t, `
start: [get]
steps:
  - name: get
    tool: get
    next: [get]
`)
	st := w.Start(SessionInfo{ID: "s", Started: t0})
	call := Call{Tool: "get"}
	d, st := w.Decide(st, call, t0)
	if d.Verdict != warden.Allow {
		t.Fatalf("get: %s %q", d.Verdict, d.Reasons)
	}
	text := func(n int) string { return strings.Repeat("x", n) }
	tests := []struct {
		name  string
		steps []string
		text  string
		step  string
		kept  bool
	}{
		{"small result", d.Steps, "hello", "get", true},
		{"exactly the limit", d.Steps, text(lastResultMax), "get", true},
		{"over the limit", d.Steps, text(lastResultMax + 1), "get", false},
		{"no step taken", nil, "hello", "", true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			od, next := w.Observe(st, tc.steps, call, Result{Text: tc.text}, t0)
			if od.Step != tc.step {
				t.Errorf("Step = %q, want %q", od.Step, tc.step)
			}
			got := resultValue(next.Tools["get"].LastResult)
			if kept := got == tc.text; kept != tc.kept {
				t.Errorf("result of %d bytes kept = %v, want %v", len(tc.text), kept, tc.kept)
			}
		})
	}
}

// TestToolGlob: * matches any run (also none, also '/'), ? exactly one
// character; a name that is only a prefix of the pattern does not match.
func TestToolGlob(t *testing.T) {
	tests := []struct {
		pat, name string
		want      bool
	}{
		{"kb_*", "kb_", true},
		{"kb_*", "kb_search", true},
		{"kb_*", "kb", false},
		{"read_?", "read_", false},
		{"read_?", "read_a", true},
		{"read_?", "read_ab", false},
		{"a*b", "a", false},
		{"a*b", "a/x/b", true},
		{"*", "", true},
		{"?", "", false},
		{"*_file", "read_file", true},
		{"*_file", "read_files", false},
		{"fs/*/get", "fs/a/b/get", true},
	}
	for _, tc := range tests {
		if got := newToolPattern(tc.pat).match(tc.name); got != tc.want {
			t.Errorf("%q matches %q = %v, want %v", tc.pat, tc.name, got, tc.want)
		}
	}
}

// TestParseEmptyStep: a step written as an empty mapping is reported at
// the mapping itself, not a crash of the loader.
func TestParseEmptyStep(t *testing.T) {
	_, err := Parse("w.yaml", []byte("start: [a]\nsteps:\n  - {}\n"))
	if err == nil || !strings.Contains(err.Error(), "w.yaml:3:5: step has no name") {
		t.Fatalf("Parse = %v, want w.yaml:3:5: step has no name", err)
	}
}
