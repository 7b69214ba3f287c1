package workflows

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadErrors(t *testing.T) {
	tests := []struct {
		name string
		src  string
		want string // file:line:col: and a fragment of the message
	}{
		{"unknown step in next", `
start: [a]
steps:
  - name: a
    tool: t
    next: [a, nope]
`, "w.yaml:6:15: unknown step \"nope\" in next of step \"a\""},
		{"unreachable step", `
start: [a]
steps:
  - name: a
    next: [a]
  - name: lonely
    next: [a]
`, "w.yaml:6:5: step \"lonely\" is unreachable"},
		{"guard does not compile", `
start: [a]
steps:
  - name: a
    guard: "args.x >"
    next: [a]
`, "w.yaml:5:12: step \"a\": guard: expression"},
		{"guard not boolean", `
start: [a]
steps:
  - name: a
    guard: "1 + 2"
    next: [a]
`, "w.yaml:5:12: step \"a\": guard:"},
		{"guard uses an unknown variable", `
start: [a]
steps:
  - name: a
    guard: "args.to in vars.contacts"
    next: [a]
`, "w.yaml:5:12: step \"a\": guard uses unknown variable vars.contacts"},
		{"binding never set before read", `
start: [pay]
terminal: [list]
steps:
  - name: pay
    guard: "args.to in vars.payees"
    next: [list]
  - name: list
    bind:
      - var: payees
        add: "map(result, .iban)"
`, "w.yaml:6:12: step \"pay\": guard reads vars.payees, which can never be set before it is read"},
		{"unknown field", `
start: [a]
steps:
  - name: a
    nxt: [a]
`, "w.yaml:5:5: unknown field \"nxt\""},
		{"bad verdict", `
on_violation: maybe
start: [a]
steps:
  - name: a
    next: [a]
`, "w.yaml:2:15: unknown verdict \"maybe\""},
		{"dead end", `
start: [a]
steps:
  - name: a
`, "w.yaml:4:5: step \"a\" has no next steps and is not terminal"},
		{"duplicate step", `
start: [a]
steps:
  - name: a
    next: [a]
  - name: a
    next: [a]
`, "w.yaml:6:11: step \"a\" is defined twice"},
		{"rule that does not compile", `
start: [a]
steps:
  - name: a
    next: [a]
rules:
  - when: "call.tool =="
    action: deny
`, "w.yaml:7:5: expression"},
		{"bad duration", `
budget: {max_duration: soon}
start: [a]
steps:
  - name: a
    next: [a]
`, "w.yaml:2:24: budget.max_duration \"soon\""},
		{"syntax error", "start: [a\nsteps: x\n", "w.yaml:"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse("w.yaml", []byte(tc.src))
			if err == nil {
				t.Fatalf("no error, want %q", tc.want)
			}
			var es Errors
			if !errors.As(err, &es) {
				t.Fatalf("error is %T, want Errors", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error:\n%v\nwant it to contain:\n%s", err, tc.want)
			}
		})
	}
}

func TestKnownToolsWarning(t *testing.T) {
	src := []byte(`
start: [a]
anytime: [b]
steps:
  - name: a
    tool: send
    next: [a]
  - name: b
    tool: "read_*"
`)
	w, err := Parse("w.yaml", src, WithKnownTools([]string{"send", "list"}))
	if err != nil {
		t.Fatal(err)
	}
	ws := w.Warnings()
	if len(ws) != 1 || !strings.Contains(ws[0].Error(), `w.yaml:9:11: step "b": no configured upstream offers a tool matching "read_*"`) {
		t.Fatalf("warnings %v", ws)
	}
}

// TestExamplesLoad: every workflow in testdata/ and examples/ loads, and
// the workflow snippets of docs/workflows.md have no problem in their
// fields, verdicts or expressions (guards and rules are conditions), so
// that a stricter check never refuses what the documentation shows.
func TestExamplesLoad(t *testing.T) {
	files := []string{"testdata/refund.yaml"}
	for _, glob := range []string{"../examples/workflows/*.yaml", "../examples/agentdojo/*.yaml"} {
		m, err := filepath.Glob(glob)
		if err != nil || len(m) == 0 {
			t.Fatalf("%s: %v (%d files)", glob, err, len(m))
		}
		files = append(files, m...)
	}
	for _, name := range files {
		if _, err := Load(name); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	doc, err := os.ReadFile("../docs/workflows.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := strings.Split(string(doc), "```yaml\n")[1:]
	if len(blocks) == 0 {
		t.Fatal("docs/workflows.md has no yaml block")
	}
	for i, b := range blocks {
		b, _, _ = strings.Cut(b, "```")
		_, err := Parse(fmt.Sprintf("docs/workflows.md block %d", i+1), []byte(b))
		if i == 0 && err != nil {
			t.Errorf("the first block is a whole workflow: %v", err)
		}
		for _, bad := range []string{"expression", "unknown field", "verdict", "YAML"} {
			if err != nil && strings.Contains(err.Error(), bad) {
				t.Errorf("block %d: %v", i+1, err)
			}
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("start: [a]\nsteps:\n  - name: a\n    guard: \"args.x in vars.y\"\n    next: [a]\n"))
	f.Add([]byte("steps: [{name: a, bind: [{var: v, add: \"result\"}]}]\nanytime: [a]\n"))
	f.Add([]byte("budget: {max_calls: -1}\nrules: [{when: 'true', action: kill}]\n"))
	f.Add([]byte("{"))
	f.Add([]byte("throttle: {per_minute: 0.5, burst: 2}\nstart: [a]\nsteps: [{name: a, approval_timeout: 1m, next: [a]}]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := Parse("fuzz.yaml", data)
		if err != nil {
			var es Errors
			if !errors.As(err, &es) || len(es) == 0 {
				t.Fatalf("error %T %v is not a non-empty Errors", err, err)
			}
			return
		}
		// A workflow that loads must decide without panicking and keep a non-empty step set.
		st := w.Start(SessionInfo{})
		for _, tool := range append(w.Tools(), "other") {
			_, st = w.Decide(st, Call{Tool: tool, Args: map[string]any{}}, t0)
			if len(st.Steps) == 0 {
				t.Fatal("step set emptied")
			}
		}
	})
}
