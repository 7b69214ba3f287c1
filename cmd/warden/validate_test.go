package main

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

// validateConfig is a config with two agents, a and b, whose workflows
// are a.yaml and b.yaml; %EXTRA% is replaced by more top-level lines.
const validateConfig = `upstreams:
  - name: desk
    http: {url: "http://127.0.0.1:1/mcp"}
agents:
  - name: a
    token_sha256: 2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b
    workflow: a.yaml
  - name: b
    token_env: WARDEN_VALIDATE_TEST_B
    workflow: b.yaml
`

const goodWorkflow = `start: [read]
steps:
  - name: read
    tool: read_file
    guard: "args.path startsWith 'docs/'"
    next: [read]
`

// TestValidateReportsEveryProblemOfEveryFile: one validate run reports
// every problem of the config and of each workflow it names, each at its
// file:line:col, where a problem used to hide those after it (an unknown
// field, an unknown verdict) or had no position (a missing workflow).
func TestValidateReportsEveryProblemOfEveryFile(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string // a.yaml, b.yaml, warden.yaml (default validateConfig)
		want  []string          // "file:line:col: fragment", file relative to the directory
	}{
		{"unknown field and what follows", map[string]string{
			"a.yaml": "colour: red\n" + goodWorkflow + "    budget: lots\n",
		}, []string{`a.yaml:1:1: unknown field "colour"`, `a.yaml:8:13: budget: cannot unmarshal string`}},
		{"unknown verdicts and what follows", map[string]string{
			"a.yaml": "on_violation: maybe\n" + goodWorkflow + "rules:\n  - {when: \"args.n > 1\", action: sometimes}\n  - {when: \"args.n >\", action: deny}\n",
		}, []string{`a.yaml:1:15: unknown verdict "maybe"`, `a.yaml:9:34: unknown verdict "sometimes"`, `a.yaml:10:6: expression "args.n >" does not compile`}},
		{"guard that is not a condition", map[string]string{
			"a.yaml": strings.Replace(goodWorkflow, "args.path startsWith 'docs/'", "args.path", 1),
		}, []string{`a.yaml:5:12: step "read": guard: expression "args.path" is not a condition`}},
		{"missing workflow file", map[string]string{
			"b.yaml": "",
			"a.yaml": "-",
		}, []string{`warden.yaml:7:15: agents[0].workflow: `, `b.yaml:1:1: the workflow has no steps`}},
		{"problems across three files", map[string]string{
			"warden.yaml": validateConfig + "listen: nowhere\n",
			"a.yaml":      strings.Replace(goodWorkflow, "next: [read]", "next: [reed]", 1),
			"b.yaml":      "steps: oops\nstart: [x]\n",
		}, []string{`warden.yaml:11:9: listen "nowhere"`, `a.yaml:6:12: unknown step "reed"`, `b.yaml:1:8: `, `b.yaml:2:9: unknown step "x" in start`}},
		{"a rules file beside a workflow", map[string]string{
			"warden.yaml": validateConfig + "rules: rules.yaml\n",
			"rules.yaml":  "rules:\n  - {when: \"args.n > 1\", action: maybe}\n  - {when: \"args.path\", action: deny}\n",
			"b.yaml":      "bogus: 1\n" + goodWorkflow,
		}, []string{`rules.yaml:2:34: unknown verdict "maybe"`, `rules.yaml:3:6: expression "args.path" is not a condition`, `b.yaml:1:1: unknown field "bogus"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WARDEN_VALIDATE_TEST_B", "b-token")
			dir := t.TempDir()
			files := map[string]string{"warden.yaml": validateConfig, "a.yaml": goodWorkflow, "b.yaml": goodWorkflow}
			for name, text := range tt.files {
				files[name] = text
			}
			for name, text := range files {
				if text != "-" { // "-": the file is not there
					writeFile(t, filepath.Join(dir, name), text)
				}
			}
			out, err := printed((&validateCmd{Config: filepath.Join(dir, "warden.yaml")}).Run)
			var ex exitError
			if !errors.As(err, &ex) || ex.code != 2 {
				t.Fatalf("validate = %v (%q), want exit 2", err, out)
			}
			lines := strings.Split(ex.msg, "\n")
			for _, w := range tt.want {
				found := false
				for _, l := range lines {
					found = found || strings.HasPrefix(l, filepath.Join(dir, w))
				}
				if !found {
					t.Errorf("no problem starting %s in:\n%s", w, ex.msg)
				}
			}
		})
	}
}

// TestValidateUnsetTokenVariable: a token variable that is named but not
// set is a warning (exit 0), so a config can be checked in CI without its
// secrets; with --strict it is an error; a token_env that names no
// variable is an error either way.
func TestValidateUnsetTokenVariable(t *testing.T) {
	tests := []struct {
		name, token string
		strict      bool
		code        int    // 0: valid
		want        string // in the output (code 0) or the error
	}{
		{"unset", "token_env: WARDEN_VALIDATE_TEST_B", false, 0, `warden.yaml:9:16: agent "b".token_env: environment variable WARDEN_VALIDATE_TEST_B is not set`},
		{"unset, strict", "token_env: WARDEN_VALIDATE_TEST_B", true, 2, `warden.yaml:9:16: agent "b".token_env: environment variable WARDEN_VALIDATE_TEST_B is not set or empty`},
		{"not named", `token_env: ""`, false, 2, `warden.yaml:9:16: agent "b".token_env "" is not an environment variable name`},
		{"no token at all", "name: b2", false, 2, `warden.yaml:8:5: agent "b" needs a token`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("WARDEN_VALIDATE_TEST_B", "")
			dir := t.TempDir()
			writeFile(t, filepath.Join(dir, "a.yaml"), goodWorkflow)
			writeFile(t, filepath.Join(dir, "b.yaml"), goodWorkflow)
			cfg := filepath.Join(dir, "warden.yaml")
			writeFile(t, cfg, strings.Replace(validateConfig, "token_env: WARDEN_VALIDATE_TEST_B", tt.token, 1))
			out, err := printed((&validateCmd{Config: cfg, Strict: tt.strict}).Run)
			if tt.code == 0 {
				if err != nil || !strings.Contains(out, "warning: "+filepath.Join(dir, tt.want)) || !strings.Contains(out, ": valid (") {
					t.Fatalf("validate = %v, output %q; want valid with a warning %q", err, out, tt.want)
				}
				return
			}
			var ex exitError
			if !errors.As(err, &ex) || ex.code != tt.code || !strings.Contains(ex.msg, filepath.Join(dir, tt.want)) {
				t.Fatalf("validate = %v, want exit %d with %q", err, tt.code, tt.want)
			}
		})
	}
}
