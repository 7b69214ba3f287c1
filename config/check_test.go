package config

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCheckUnsetVariables: Check (warden validate) warns about a variable
// the config names but the environment lacks, and fails on it when
// strict; Load always fails on it. A variable that is not named at all
// is an error in every mode.
func TestCheckUnsetVariables(t *testing.T) {
	const unset = "WARDEN_CHECK_TEST_UNSET"
	tests := []struct {
		name   string
		src    string
		at     string // file:line:col of the problem, after the file name
		always bool   // an error even when not strict
	}{
		{"token_env unset", strings.Replace(minimal, "token_sha256: $H", "token_env: "+unset, 1), ":6:16: agent \"bot\".token_env: environment variable " + unset, false},
		{"header variable unset", `upstreams:
  - name: up
    http: {url: "http://127.0.0.1:1/mcp", headers: {Authorization: "Bearer ${` + unset + `}"}}
agents:
  - name: bot
    token_sha256: $H
`, ":3:68: upstream \"up\".http.headers.Authorization: environment variable " + unset, false},
		{"webhook secret unset", minimal + "approvals:\n  webhooks: [{url: \"http://127.0.0.1:1/hook\"}]\n  secret_env: " + unset + "\n",
			":9:15: approvals.secret_env: environment variable " + unset, false},
		{"webhook URL variable unset", minimal + "approvals:\n  webhooks: [{url: \"${" + unset + "}\", slack: true}]\n  secret_env: " + unset + "\n",
			":8:20: approvals.webhooks[0].url: environment variable " + unset, false},
		{"admin token_env unset", minimal + "admin: {token_env: " + unset + "}\n", ":7:20: admin.token_env: environment variable " + unset, false},
		{"token_env empty", strings.Replace(minimal, "token_sha256: $H", `token_env: ""`, 1), `:6:16: agent "bot".token_env`, true},
		{"token_env not a name", strings.Replace(minimal, "token_sha256: $H", `token_env: "1 2"`, 1), `:6:16: agent "bot".token_env "1 2" is not an environment variable name`, true},
		{"no token", strings.Replace(minimal, "    token_sha256: $H\n", "", 1), `:5:5: agent "bot" needs a token`, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(unset, "")
			path := filepath.Join(t.TempDir(), "warden.yaml")
			if err := os.WriteFile(path, fix(tt.src), 0o600); err != nil {
				t.Fatal(err)
			}
			want := path + tt.at
			_, warns, err := Check(path, false)
			switch {
			case tt.always && (err == nil || !strings.Contains(err.Error(), want)):
				t.Errorf("Check = %v, want an error %q", err, want)
			case !tt.always && err != nil:
				t.Errorf("Check = %v, want no error", err)
			case !tt.always && !slices.ContainsFunc(warns, func(w *Error) bool { return strings.HasPrefix(w.Error(), want) }):
				t.Errorf("Check warnings %v, want one starting %q", warns, want)
			}
			if _, _, err := Check(path, true); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("strict Check = %v, want an error %q", err, want)
			}
			if _, err := Load(path); err == nil || !strings.Contains(err.Error(), want) {
				t.Errorf("Load = %v, want an error %q", err, want)
			}
		})
	}
}

// TestMissingFilesHaveAPosition: a workflow or rules file that is not
// there is reported at the line of the config that names it, beside the
// config's other problems.
func TestMissingFilesHaveAPosition(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "warden.yaml")
	src := minimal + "    workflow: flows/none.yaml\nrules: rules.yaml\nlisten: nope\n"
	if err := os.WriteFile(path, fix(src), 0o600); err != nil {
		t.Fatal(err)
	}
	want := []string{
		path + `:7:15: agents[0].workflow: ` + filepath.Join(dir, "flows/none.yaml") + ` does not exist`,
		path + `:8:8: rules: ` + filepath.Join(dir, "rules.yaml") + ` does not exist`,
		path + `:9:9: listen "nope" is not host:port`,
	}
	for _, load := range []func() error{
		func() error { _, err := Load(path); return err },
		func() error { _, _, err := Check(path, false); return err },
	} {
		err := load()
		var es Errors
		if !errors.As(err, &es) || len(es) != len(want) {
			t.Fatalf("error %v, want %d problems", err, len(want))
		}
		for i, w := range want {
			if !strings.HasPrefix(es[i].Error(), w) {
				t.Errorf("problem %d: %q, want %q", i, es[i].Error(), w)
			}
		}
	}
	// Check returns what it could read, so the files it names can be checked too.
	cfg, _, _ := Check(path, false)
	if cfg == nil || len(cfg.Agents) != 1 || cfg.Agents[0].Workflow != "" {
		t.Fatalf("Check's config %+v, want the agent without its missing workflow", cfg)
	}
}
