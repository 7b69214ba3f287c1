package main

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// testWorkflow accepts read_file and nothing else: any other tool steps up.
const testWorkflow = "agent: a\nstart: [read]\nsteps:\n  - {name: read, tool: read_file, next: [read]}\n"

// testDir writes a policy directory: the workflow, and each case file
// under tests/.
func testDir(t *testing.T, cases map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "wf.yaml"), testWorkflow)
	if err := os.MkdirAll(filepath.Join(dir, "tests", "sub"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, text := range cases {
		writeFile(t, filepath.Join(dir, "tests", name), text)
	}
	return dir
}

func TestTestCommand(t *testing.T) {
	pass := `{"id":"reads","agent":"a","calls":[{"tool":"read_file","want":"allow"},{"tool":"delete","want_at_least":"step_up"}]}` + "\n"
	wrong := `{"id":"deletes","agent":"a","calls":[{"tool":"read_file","want":"allow"},{"tool":"delete","want_at_most":"flag"}]}` + "\n"
	tests := []struct {
		name  string
		cases map[string]string
		run   string
		code  int      // 0: success
		out   []string // in the output (success, mismatch) or the message (exit 2)
	}{
		{"pass", map[string]string{"a.jsonl": pass}, "", 0,
			[]string{"1 cases, 1 passed, 0 failed (2 calls checked)"}},
		{"mismatch with reasons", map[string]string{"a.jsonl": pass, "sub/b.jsonl": wrong}, "", 1,
			[]string{"FAIL deletes (" + filepath.Join("tests", "sub", "b.jsonl") + ":1, workflow wf.yaml)", "call 2 delete: got step_up, want at most flag", `reasons: tool "delete" is not in the workflow of agent "a"`, "2 cases, 1 passed, 1 failed"}},
		{"--run leaves the mismatch out", map[string]string{"a.jsonl": pass, "sub/b.jsonl": wrong}, "^read", 0,
			[]string{"1 cases, 1 passed, 0 failed"}},
		{"--run matches nothing", map[string]string{"a.jsonl": pass}, "nothing", 2,
			[]string{`--run "nothing" matches none of the 1 cases`}},
		{"bad --run", map[string]string{"a.jsonl": pass}, "(", 2, []string{"--run: error parsing regexp"}},
		{"broken file", map[string]string{"a.jsonl": pass + "\n" + `{"id":"x","calls":[{"tool":"t","want":"maybe"}]}` + "\n"}, "", 2,
			[]string{filepath.Join("tests", "a.jsonl") + `:3: call 1 (t): want: unknown verdict "maybe"`}},
		{"named workflow missing", map[string]string{"a.jsonl": `{"workflow":"other","calls":[{"tool":"t","want":"allow"}]}` + "\n"}, "", 2,
			[]string{filepath.Join("tests", "a.jsonl") + `:1: no workflow "other"`}},
		{"no cases", map[string]string{}, "", 2, []string{"no test cases in"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := testDir(t, tt.cases)
			out, err := printed((&testCmd{Dir: dir, Filter: tt.run}).Run)
			code, text := 0, out
			var ex exitError
			switch {
			case errors.As(err, &ex):
				code = ex.code
				if code == 2 {
					text = ex.msg
				}
			case err != nil:
				t.Fatalf("error %v, want an exit code", err)
			}
			if code != tt.code {
				t.Fatalf("exit %d (%v), want %d; output:\n%s", code, err, tt.code, out)
			}
			for _, want := range tt.out {
				if !strings.Contains(text, want) {
					t.Errorf("%q is not in:\n%s", want, text)
				}
			}
		})
	}
}

// TestTestCommandJSON: --json is one object with every case, passed or
// not, and each mismatch's verdicts and reasons.
func TestTestCommandJSON(t *testing.T) {
	dir := testDir(t, map[string]string{"a.jsonl": `{"id":"ok","agent":"a","calls":[{"tool":"read_file","want":"allow"}]}
{"id":"bad","agent":"a","calls":[{"tool":"read_file"},{"tool":"delete","want":"deny"}]}
`})
	out, err := printed((&testCmd{Dir: dir, JSON: true}).Run)
	var ex exitError
	if !errors.As(err, &ex) || ex.code != 1 {
		t.Fatalf("error %v, want exit 1", err)
	}
	var rep testReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("not one JSON object (%v):\n%s", err, out)
	}
	if rep.Passed != 1 || rep.Failed != 1 || rep.Calls != 2 || len(rep.Results) != 2 {
		t.Fatalf("report %+v", rep)
	}
	ok, bad := rep.Results[0], rep.Results[1]
	if ok.ID != "ok" || !ok.Passed || ok.Mismatches == nil || len(ok.Mismatches) != 0 {
		t.Errorf("passing case %+v", ok)
	}
	if bad.ID != "bad" || bad.Passed || bad.Line != 2 || len(bad.Mismatches) != 1 {
		t.Fatalf("failing case %+v", bad)
	}
	m := bad.Mismatches[0]
	if m.Call != 2 || m.Got.String() != "step_up" || m.Want != "deny" || len(m.Reasons) == 0 {
		t.Errorf("mismatch %+v", m)
	}
}

// TestTestExamples: the AgentDojo workflows pass their own cases (benign
// tasks within today's verdicts, attacks stepping up).
func TestTestExamples(t *testing.T) {
	out, err := printed((&testCmd{Dir: "../../examples/agentdojo"}).Run)
	if err != nil {
		t.Fatalf("warden test examples/agentdojo: %v\n%s", err, out)
	}
	if !strings.Contains(out, "32 cases, 32 passed, 0 failed") {
		t.Fatalf("output:\n%s", out)
	}
	// The attacks are in the run, and each wants a step-up.
	out, err = printed((&testCmd{Dir: "../../examples/agentdojo", Filter: "^attack/", JSON: true}).Run)
	if err != nil {
		t.Fatal(err)
	}
	var rep testReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Passed != 11 {
		t.Fatalf("%d attack cases passed, want the corpus's 11", rep.Passed)
	}
}
