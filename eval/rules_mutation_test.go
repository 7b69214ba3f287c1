package eval

import (
	"reflect"
	"strings"
	"testing"

	"github.com/warden-dev/warden"
)

// TestEvaluateStrongestOfFiredRules pins the documented combination: of
// the rules that fire, the strongest action wins whatever their order
// (not the first or the last match), every fired rule's reason is kept in
// rule order, and rules of the other kind (call vs result) take no part.
func TestEvaluateStrongestOfFiredRules(t *testing.T) {
	tests := []struct {
		name     string
		src      string
		onResult bool
		want     warden.Verdict
		reasons  []string
	}{
		{
			name: "stronger first",
			src: `rules:
  - {when: "args.amount > 100", action: deny, reason: too much}
  - {when: "args.to == 'a@x.com'", action: flag, reason: known recipient}
`,
			want: warden.Deny, reasons: []string{"too much", "known recipient"},
		},
		{
			name: "stronger last",
			src: `rules:
  - {when: "args.to == 'a@x.com'", action: flag, reason: known recipient}
  - {when: "args.amount > 100", action: step_up, reason: too much}
  - {when: "session.calls > 1", action: throttle, reason: busy}
`,
			want: warden.StepUp, reasons: []string{"known recipient", "too much", "busy"},
		},
		{
			name: "an allow rule cannot lower a fired flag",
			src: `rules:
  - {when: "true", action: flag, reason: always}
  - {when: "true", action: allow, reason: fine}
`,
			want: warden.Flag, reasons: []string{"always", "fine"},
		},
		{
			name: "rules that do not fire add nothing",
			src: `rules:
  - {when: "args.amount > 1000", action: kill, reason: huge}
  - {when: "args.to == 'a@x.com'", action: flag, reason: known recipient}
  - {when: "false", action: deny, reason: never}
`,
			want: warden.Flag, reasons: []string{"known recipient"},
		},
		{
			name: "nothing fires",
			src: `rules:
  - {when: "args.amount > 1000", action: kill, reason: huge}
`,
			want: warden.Allow, reasons: nil,
		},
		{
			name: "result rules are not call rules",
			src: `rules:
  - {when: "true", action: flag, reason: call}
result_rules:
  - {when: "result == 'secret'", action: kill, reason: leak}
`,
			want: warden.Flag, reasons: []string{"call"},
		},
		{
			name: "call rules are not result rules",
			src: `rules:
  - {when: "true", action: deny, reason: call}
result_rules:
  - {when: "result == 'secret'", action: step_up, reason: leak}
  - {when: "result == 'other'", action: kill, reason: other}
`,
			onResult: true,
			want:     warden.StepUp, reasons: []string{"leak"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, err := LoadRules("r.yaml", []byte(tc.src))
			if err != nil {
				t.Fatal(err)
			}
			env := testEnv()
			env.Result = "secret"
			v, reasons := Evaluate(rules, env, tc.onResult)
			if v != tc.want || !reflect.DeepEqual(reasons, tc.reasons) {
				t.Fatalf("Evaluate = %s %q, want %s %q", v, reasons, tc.want, tc.reasons)
			}
		})
	}
}

// TestEvaluateUncompiledRuleDenies: a rule that skipped Compile cannot be
// judged, so it denies rather than letting the call through.
func TestEvaluateUncompiledRuleDenies(t *testing.T) {
	rules := []Rule{{Name: "raw", When: "true", Action: warden.Allow}}
	v, reasons := Evaluate(rules, testEnv(), false)
	if v != warden.Deny || len(reasons) != 1 || !strings.Contains(reasons[0], `"raw" was not compiled`) {
		t.Fatalf("Evaluate = %s %q, want deny because raw was not compiled", v, reasons)
	}
}

// TestHostEdges: host() feeds allow-lists of domains, so a URL written to
// confuse it (credentials before an @, no scheme, a bare port or path)
// is refused, which fails the expression closed; a plain host, with or
// without a port or fragment, gives the host a browser would reach.
func TestHostEdges(t *testing.T) {
	tests := []struct{ in, want string }{ // want "" means refused
		{"https://trusted.com@evil.com/x", ""},
		{"https://user:pw@Evil.com:443/", ""},
		{"@evil.com", ""},
		{"://evil.com/x", ""},
		{"evil.com:8080", "evil.com"},
		{":8080", ""},
		{"/local/path", ""},
		{"?q=evil.com", ""},
		{"#evil.com", ""},
		{"www.x.org#frag", "x.org"},
	}
	p, err := Compile("host(args.u)", Binding)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range tests {
		env := testEnv()
		env.Args = map[string]any{"u": tc.in}
		got, err := p.Run(env)
		if tc.want == "" {
			if err == nil {
				t.Errorf("host(%q) = %q; want it refused, failing the expression", tc.in, got)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("host(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}

// TestParseOutputSizeLimit: text up to maxParse bytes is parsed as YAML,
// longer text stays text (the limit bounds the decision path's cost).
func TestParseOutputSizeLimit(t *testing.T) {
	doc := func(n int) string { return "k: " + strings.Repeat("v", n-len("k: ")) }
	if got, ok := ParseOutput(doc(maxParse), nil).(map[string]any); !ok || len(got["k"].(string)) != maxParse-3 {
		t.Errorf("a %d-byte YAML document was not parsed", maxParse)
	}
	if got, ok := ParseOutput(doc(maxParse+1), nil).(string); !ok || len(got) != maxParse+1 {
		t.Errorf("a %d-byte YAML document was parsed, want it kept as text", maxParse+1)
	}
}
