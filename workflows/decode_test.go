package workflows

import (
	"errors"
	"strings"
	"testing"
)

// TestParseReportsEveryProblemAtOnce: an unknown field, an unknown verdict
// (of the workflow and of a rule) and a guard that is not a condition are
// all reported by one Parse, each at its own line and column, where the
// first one used to hide the rest.
func TestParseReportsEveryProblemAtOnce(t *testing.T) {
	src := `bogus: 1
on_violation: maybe
start: [read]
steps:
  - name: read
    tool: read_file
    guard: "args.path"
    colour: red
    next: [read]
rules:
  - when: "args.size > 10"
    action: sometimes
  - when: "args.mode"
    action: deny
    reson: typo
`
	_, err := Parse("w.yaml", []byte(src))
	var es Errors
	if !errors.As(err, &es) {
		t.Fatalf("error %v (%T), want Errors", err, err)
	}
	want := []string{
		`w.yaml:1:1: unknown field "bogus"`,
		`w.yaml:2:15: unknown verdict "maybe"`,
		`w.yaml:7:12: step "read": guard: expression "args.path" is not a condition`,
		`w.yaml:8:5: unknown field "colour"`,
		`w.yaml:12:13: unknown verdict "sometimes"`,
		`w.yaml:13:5: expression "args.mode" is not a condition`,
		`w.yaml:15:5: unknown field "reson"`,
	}
	if len(es) != len(want) {
		t.Fatalf("got %d errors, want %d:\n%v", len(es), len(want), err)
	}
	for i, w := range want {
		if !strings.HasPrefix(es[i].Error(), w) {
			t.Errorf("error %d: %q, want it to start with %q", i, es[i].Error(), w)
		}
	}
}

// TestGuardsMustBeConditions: a guard or a rule's when is refused at load
// when it can give something other than a bool, and the usual guards are
// still accepted.
func TestGuardsMustBeConditions(t *testing.T) {
	tests := []struct {
		guard string
		ok    bool
	}{
		{"args.path", false},
		{"vars.x", false},
		{"args.flag ?? false", false},
		{"args.amount", false},
		{"args.path != ''", true},
		{"args.confirm == true", true},
		{"args.amount > 0 && args.amount <= 100", true},
		{"host(args.url) in vars.sites || 'intent' in sources(args.url)", true},
		{"called('read')", true},
		{"!called('read')", true},
		{"len(args.attachments ?? []) == 0", true},
	}
	for _, tt := range tests {
		t.Run(tt.guard, func(t *testing.T) {
			for _, src := range []string{
				"vars: {x: 1, sites: []}\nstart: [a]\nsteps:\n  - name: a\n    guard: \"" + tt.guard + "\"\n    next: [a]\n",
				"vars: {x: 1, sites: []}\nstart: [a]\nsteps:\n  - name: a\n    next: [a]\nrules:\n  - when: \"" + tt.guard + "\"\n    action: deny\n",
			} {
				_, err := Parse("w.yaml", []byte(src))
				if tt.ok && err != nil {
					t.Errorf("refused: %v\n%s", err, src)
				}
				if !tt.ok && (err == nil || !strings.Contains(err.Error(), "is not a condition")) {
					t.Errorf("error %v, want \"is not a condition\"\n%s", err, src)
				}
			}
		})
	}
}

// TestDecodeErrorsHavePositions: a value of the wrong kind is reported at
// its line and column, with the field's name.
func TestDecodeErrorsHavePositions(t *testing.T) {
	tests := []struct{ src, want string }{
		{"agent: [a]\nstart: [a]\nsteps:\n  - name: a\n    next: [a]\n", "w.yaml:1:8: agent: want a string, got Sequence"},
		{"start: [a]\nsteps:\n  - name: a\n    budget: lots\n    next: [a]\n", "w.yaml:4:13: budget: "},
	}
	for _, tt := range tests {
		_, err := Parse("w.yaml", []byte(tt.src))
		if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.src, err, tt.want)
		}
	}
}
