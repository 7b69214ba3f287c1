package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestAttackOCSFHoldsNoSecrets: neither the live OCSF export nor `warden
// export --format ocsf` carries the agent's token (its token_env value),
// the admin token, or the content of a result that a result rule withheld
// (a live API key read from a file). (With record_results: {withheld:
// full} the history keeps that result in clear, and the export carries it
// in unmapped.warden.data, as docs/siem.md says.)
func TestAttackOCSFHoldsNoSecrets(t *testing.T) {
	const (
		agentToken = "agent-token-from-env-0123456789"
		adminToken = "admin-token-from-env-0123456789"
		leaked     = "sk_live_demo_do_not_leak"
	)
	t.Setenv("ATTACK_AGENT_TOKEN", agentToken)
	t.Setenv("ATTACK_ADMIN_TOKEN", adminToken)
	bin := buildWarden(t)
	dir := t.TempDir()
	live := filepath.Join(dir, "live-ocsf.jsonl")
	cfg := deskConfig(t, "", fmt.Sprintf(`admin: {listen: "127.0.0.1:%d", token_env: ATTACK_ADMIN_TOKEN}
export:
  ocsf: {file: %q, interval: 50ms}
agents:
  - name: desktop
    token_env: ATTACK_AGENT_TOKEN
    workflow: desktop.yaml
`, freePort(t), live))
	writeFile(t, filepath.Join(filepath.Dir(cfg), "desktop.yaml"), []byte(`agent: desktop
anytime: [read]
steps:
  - name: read
    tool: read_file
result_rules:
  - name: leaked-key
    when: "toJSON(result) contains 'sk_live_'"
    action: deny
    reason: a live API key in a tool result
`), 0o600)
	serve := startServe(t, bin, cfg)
	c := connect(t, serve.url, agentToken)
	res := callTool(t, c, "read_file", map[string]any{"path": "secrets/api-keys.env"})
	if strings.Contains(resultText(res), leaked) {
		t.Fatalf("the agent got the key: %q", resultText(res))
	}
	if got := resultText(callTool(t, c, "read_file", map[string]any{"path": "policies/refunds.md"})); !strings.Contains(got, "200 EUR") {
		t.Fatalf("read_file = %q", got)
	}
	// The live export has caught up once the last result is in it.
	deadline := time.Now().Add(30 * time.Second)
	for {
		b, _ := os.ReadFile(live)
		if strings.Count(string(b), `"read_file"`) >= 4 { // two calls, two results
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the live export did not catch up:\n%s\nserve:\n%s", b, serve.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := serve.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	<-serve.done

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := filepath.Join(dir, "export-ocsf.jsonl")
	if b, err := exec.CommandContext(ctx, bin, "export", "-c", cfg, "--format", "ocsf", "--out", out).CombinedOutput(); err != nil {
		t.Fatalf("warden export --format ocsf: %v\n%s", err, b)
	}
	for _, file := range []string{live, out} {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(b), "leaked-key") {
			t.Errorf("%s does not say which rule withheld the result:\n%s", file, b)
		}
		for name, secret := range map[string]string{"the agent's token": agentToken, "the admin token": adminToken, "the withheld key": leaked} {
			if strings.Contains(string(b), secret) {
				t.Errorf("%s holds %s", filepath.Base(file), name)
			}
		}
	}
	if s := serve.stderr.String(); strings.Contains(s, agentToken) || strings.Contains(s, adminToken) || strings.Contains(s, leaked) {
		t.Errorf("serve logged a secret:\n%s", s)
	}
}
