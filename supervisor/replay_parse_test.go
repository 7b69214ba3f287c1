package supervisor

import (
	"strings"
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

// TestParseShare: a replay's sessions share one parse per distinct result
// text; a result with structuredContent gets its own, and past
// maxParseShare bytes of text the share starts again, so it stays bounded.
func TestParseShare(t *testing.T) {
	s := newParseShare()
	a := s.result("- a: 1\n", nil)
	if s.result("- a: 1\n", nil) != a {
		t.Error("the same text got a second parse")
	}
	if s.result("- a: 2\n", nil) == a {
		t.Error("another text got the first's parse")
	}
	structured := map[string]any{"a": 1}
	if r := s.result("- a: 1\n", structured); r == a || r.Value() == nil {
		t.Error("a result with structuredContent shares the text's parse")
	}
	big := strings.Repeat("x", maxParseShare/16)
	for i := range 17 {
		s.result(big[:len(big)-i-1], nil)
	}
	if s.bytes > maxParseShare {
		t.Errorf("the share holds %d bytes of text, over %d", s.bytes, maxParseShare)
	}
	if s.result("- a: 1\n", nil) == a {
		t.Error("past its bound the share kept what it held")
	}
	var none *parseShare
	if none.result("x", nil) == none.result("x", nil) {
		t.Error("without a share, two results share a parse")
	}
}
