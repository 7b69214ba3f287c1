package supervisor

import (
	"testing"

	"github.com/warden-dev/warden/workflows"
)

// TestPolicyObserveParsesForResultRules: the policy's result rules read a
// call's result, so Observe parses it for them; call rules alone do not,
// and a result nobody reads stays unparsed (replay then parses only what a
// provenance lookup needs).
func TestPolicyObserveParsesForResultRules(t *testing.T) {
	tests := []struct {
		name   string
		rules  string
		parsed bool
	}{
		{"call rules", "rules:\n  - {when: \"call.tool == 'x'\", action: flag, reason: x}\n", false},
		{"result rules", "result_rules:\n  - {when: \"result == 'y'\", action: flag, reason: y}\n", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := rulesPolicy(t, tt.rules)
			st := p.Workflow.Start(workflows.SessionInfo{ID: "s"})
			call := workflows.Call{Tool: "search"}
			d, st := p.Decide(st, call, t0)
			od, _ := p.Observe(st, d.Steps, call, workflows.Result{Text: "- a: 1\n"}, t0)
			if got := od.Result().Done(); got != tt.parsed {
				t.Errorf("result parsed = %v, want %v", got, tt.parsed)
			}
		})
	}
}
