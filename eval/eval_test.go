package eval

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/warden-dev/warden"
)

func testEnv() *Env {
	args := map[string]any{"to": "a@x.com", "amount": 120.0}
	vars := map[string]any{"contacts": []any{"a@x.com"}}
	return &Env{
		Call:    CallEnv{Tool: "send", Args: args},
		Args:    args,
		Vars:    vars,
		Session: SessionEnv{ID: "s", Agent: "mail", Vars: vars, Calls: 3},
		Now:     time.Date(2025, 1, 1, 23, 0, 0, 0, time.UTC),
		Called:  func(tool string) bool { return tool == "lookup" },
		Count:   func(tool string) int { return map[string]int{"lookup": 2}[tool] },
		Last:    func(tool string) map[string]any { return map[string]any{"args": map[string]any{"q": "ann"}} },
		Since:   func(tool string) float64 { return 30 },
	}
}

func TestCompileAndRun(t *testing.T) {
	tests := []struct {
		src  string
		want bool
	}{
		{"args.to in vars.contacts", true},
		{"call.args.to in session.vars.contacts && session.calls == 3", true},
		{"called('lookup') && count('lookup') == 2 && since('lookup') < 60", true},
		{"last('lookup').args.q == 'ann'", true},
		{"now.Hour() >= 22", true},
		{"args.amount > 1000", false},
		{"'b@x.com' in vars.missing", false},
		{"len(rows(nil)) == 0 && len(rows({'a': 1})) == 1 && len(rows([1, 2])) == 2", true},
		{"urls('see https://Evil.example.com/x?d=1, and www.info.com.') == ['https://Evil.example.com/x?d=1', 'www.info.com']", true},
		{"host('https://www.Info.com:8080/a?b') == 'info.com' && host('info.com/x') == 'info.com'", true},
		{"emails('mail bob@x.org or <eve@y.com>') == ['bob@x.org', 'eve@y.com']", true},
	}
	for _, tc := range tests {
		p, err := Compile(tc.src, Guard)
		if err != nil {
			t.Fatalf("%s: %v", tc.src, err)
		}
		got, err := p.Bool(testEnv())
		if err != nil || got != tc.want {
			t.Errorf("%s = %v, %v; want %v", tc.src, got, err, tc.want)
		}
	}
}

func TestCompileRejects(t *testing.T) {
	for _, src := range []string{"args.to in", "1 + 1", "nosuchthing > 1", "called(1)"} {
		if _, err := Compile(src, Guard); err == nil {
			t.Errorf("%q compiled, want an error", src)
		}
	}
}

func TestVarsAndResult(t *testing.T) {
	p, err := Compile("args.x in vars.a || vars.b == session.vars.c || result != nil", Binding)
	if err != nil {
		t.Fatal(err)
	}
	if got := p.Vars(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Fatalf("Vars() = %v", got)
	}
	if !p.UsesResult() {
		t.Fatal("UsesResult() = false")
	}
}

func TestEvaluateStrongestWinsAndFailsClosed(t *testing.T) {
	rules, err := LoadRules("r.yaml", []byte(`
rules:
  - name: big
    when: "args.amount > 100"
    action: step_up
    reason: large amount
  - when: "now.Hour() >= 22"
    action: flag
  - name: broken
    when: "args.nested.deep == 1"
    action: allow
result_rules:
  - when: "result contains 'BEGIN PRIVATE KEY'"
    action: kill
    reason: key in result
`))
	if err != nil {
		t.Fatal(err)
	}
	v, reasons := Evaluate(rules, testEnv(), false)
	if v != warden.Deny {
		t.Fatalf("verdict %s, want deny (a rule errored); reasons %q", v, reasons)
	}
	joined := strings.Join(reasons, "|")
	for _, want := range []string{"large amount", "rule: now.Hour() >= 22", `rule "broken" failed`} {
		if !strings.Contains(joined, want) {
			t.Errorf("reasons %q lack %q", reasons, want)
		}
	}
	env := testEnv()
	env.Result = "-----BEGIN PRIVATE KEY-----"
	if v, _ := Evaluate(rules, env, true); v != warden.Kill {
		t.Fatalf("result rule: %s, want kill", v)
	}
}

func TestLoadRulesErrors(t *testing.T) {
	tests := []struct{ src, want string }{
		{"rules:\n  - when: \"x ==\"\n    action: deny\n", "r.yaml:2:5: expression"},
		{"rules:\n  - when: \"true\"\n    action: maybe\n", "r.yaml:3:13:"},
		{"rules:\n  - when: \"result == 1\"\n    action: deny\n", "only result_rules can see"},
		{"rulez: []\n", "r.yaml:1:1: unknown field"},
	}
	for _, tc := range tests {
		_, err := LoadRules("r.yaml", []byte(tc.src))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want %q", tc.src, err, tc.want)
		}
	}
}

// TestLoadRulesReportsEveryProblem: an unknown field or a rule's unknown
// verdict no longer hides the problems after it.
func TestLoadRulesReportsEveryProblem(t *testing.T) {
	src := `colour: red
rules:
  - when: "args.x > 1"
    action: sometimes
  - when: "args.y"
    action: deny
  - when: "args.z > 1"
    action: deny
    reson: typo
result_rules:
  - when: "result == 'x'"
    action: kill
`
	_, err := LoadRules("r.yaml", []byte(src))
	for _, want := range []string{
		`r.yaml:1:1: unknown field "colour"`,
		`r.yaml:4:13: unknown verdict "sometimes"`,
		`r.yaml:5:5: expression "args.y" is not a condition`,
		`r.yaml:9:5: unknown field "reson"`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v\nlacks %q", err, want)
		}
	}
}

func TestParseOutput(t *testing.T) {
	tests := []struct {
		text       string
		structured any
		want       any
	}{
		{`{"a": 1}`, nil, map[string]any{"a": 1.0}},
		{"- recipient: X1\n  amount: 5.0\n", nil, []any{map[string]any{"recipient": "X1", "amount": 5.0}}},
		{"{'message': 'sent'}", nil, map[string]any{"message": "sent"}},
		{"Dear tenant,\nPlease note: pay X", nil, "Dear tenant,\nPlease note: pay X"},
		{"2024-05-15", nil, "2024-05-15"},
		{"ignored", map[string]any{"k": "v"}, map[string]any{"k": "v"}},
	}
	for _, tc := range tests {
		if got := ParseOutput(tc.text, tc.structured); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ParseOutput(%q) = %#v, want %#v", tc.text, got, tc.want)
		}
	}
}

func FuzzParseOutput(f *testing.F) {
	f.Add("- a: 1\n")
	f.Add("{'x': [1, 2]}")
	f.Add("start: !00\n000000\n  -00000000000000000000000000000000000000000000000000000000000")
	f.Fuzz(func(t *testing.T, s string) {
		_ = ParseOutput(s, nil) // must not panic
	})
}
