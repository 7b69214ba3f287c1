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

// TestParseShareRaw: outputs left as their JSON strings by replay's
// workers are unquoted once for each distinct string and share its parse;
// the share of those stays bounded too.
func TestParseShareRaw(t *testing.T) {
	s := newParseShare()
	text, a := s.raw([]byte(`"- a: \u00e9\n"`))
	if text != "- a: é\n" {
		t.Errorf("unquoted %q", text)
	}
	again, b := s.raw([]byte(`"- a: \u00e9\n"`))
	if b != a || again != text {
		t.Error("the same string got a second unquoting and parse")
	}
	if _, c := s.raw([]byte(`"- a: 2\n"`)); c == a {
		t.Error("another string got the first's parse")
	}
	res := s.of(TraceCall{rawOutput: []byte(`"- a: \u00e9\n"`)})
	if res.Text != text || res.Parse != a {
		t.Errorf("of: %q, shared parse %v", res.Text, res.Parse == a)
	}
	structured := map[string]any{"a": 1}
	if res := s.of(TraceCall{rawOutput: []byte(`"x\ty"`), Structured: structured}); res.Text != "x\ty" || res.Parse == a || res.Structured == nil {
		t.Errorf("with structuredContent: %+v", res)
	}
	big := []byte(`"` + strings.Repeat("x", maxParseShare/32) + `"`)
	for i := range 40 {
		s.raw(append(big[:len(big)-i-2:len(big)-i-2], '"'))
	}
	if s.bytes > maxParseShare {
		t.Errorf("the share holds %d bytes, over %d", s.bytes, maxParseShare)
	}
	if _, c := s.raw([]byte(`"- a: \u00e9\n"`)); c == a {
		t.Error("past its bound the share kept what it held")
	}
}

// TestParseShareChecked: the share says it holds a JSON string (checked
// by the decoder that handed it out) only once it has unquoted it, and
// forgets it when it starts again past its bound; a nil share holds none.
func TestParseShareChecked(t *testing.T) {
	s := newParseShare()
	q := []byte(`"- a: \u00e9\n"`)
	if s.checked(q) {
		t.Error("checked before the share saw it")
	}
	s.raw(q)
	if !s.checked(q) || s.checked([]byte(`"- a: 2\n"`)) {
		t.Errorf("after raw: checked %v, another string checked %v; want true, false", s.checked(q), s.checked([]byte(`"- a: 2\n"`)))
	}
	s.fit(maxParseShare)
	if s.checked(q) {
		t.Error("checked after the share started again")
	}
	var none *parseShare
	if none.checked(q) {
		t.Error("a nil share holds a string")
	}
}
