package config

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTokenFile reads agents' and the admin API's tokens from files named
// relative to the config, and refuses, at the field's position, a file
// that is missing, empty, or open to other users, or given beside
// another token field.
func TestTokenFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, text string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(text), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil { // not narrowed by the umask
			t.Fatal(err)
		}
	}
	write("bot.token", "bot-secret\n", 0o600)
	write("admin.token", "  admin-secret \n", 0o400)
	write("empty.token", "\n", 0o600)
	write("open.token", "open-secret\n", 0o644)
	const agent = "upstreams:\n  - name: up\n    stdio: {command: x}\nagents:\n  - name: bot\n    token_file: "
	cfg, err := Parse(filepath.Join(dir, "w.yaml"), []byte(agent+"bot.token\nadmin: {token_file: admin.token}\n"), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	if a := cfg.Agents[0]; a.TokenSHA256 != HashToken("bot-secret") || a.TokenFile != filepath.Join(dir, "bot.token") || !a.CheckToken("bot-secret") {
		t.Errorf("agent token from a file: hash %s file %s", a.TokenSHA256, a.TokenFile)
	}
	if cfg.Admin.TokenSHA256 != HashToken("admin-secret") || cfg.Admin.TokenFile != filepath.Join(dir, "admin.token") {
		t.Errorf("admin token from a file: hash %s file %s", cfg.Admin.TokenSHA256, cfg.Admin.TokenFile)
	}

	cases := []struct {
		name, file, extra string
		want              want
	}{
		{"missing", "none.token", "", want{6, 17, "none.token: no such file"}},
		{"empty", "empty.token", "", want{6, 17, "empty.token is empty"}},
		{"open to others", "open.token", "", want{6, 17, "can be read or written by other users"}},
		{"beside token_sha256", "bot.token", "    token_sha256: $H\n", want{7, 5, `agent "bot" sets both token_file and token_sha256`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(filepath.Join(dir, "w.yaml"), fix(agent+c.file+"\n"+c.extra), noEnv)
			var errs Errors
			if !errors.As(err, &errs) || len(errs) != 1 {
				t.Fatalf("Parse: %v; want one problem", err)
			}
			if e := errs[0]; e.Line != c.want.line || e.Col != c.want.col || !strings.Contains(e.Msg, c.want.msg) {
				t.Errorf("problem %v; want %d:%d: ...%s...", e, c.want.line, c.want.col, c.want.msg)
			}
		})
	}
}
