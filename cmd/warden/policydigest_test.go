package main

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/warden-dev/warden/config"
)

// TestPolicyDigest: copies of one configuration in other folders, with
// other restart-only settings, digest the same; a change to anything a
// reload applies (a workflow file's content, a budget, a throttle, an
// agent's tools) digests otherwise.
func TestPolicyDigest(t *testing.T) {
	const hash = "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae"
	const wf = "agent: a\nstart: [echo]\nanytime: [echo]\nsteps:\n  - name: echo\n    tool: echo\n    next: [\"*\"]\n"
	write := func(t *testing.T, listen, workflow, extra, agentExtra string) *config.Config {
		t.Helper()
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, "a.yaml"), []byte(workflow), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg := "listen: " + listen + "\ndata_dir: " + filepath.Join(dir, "data") + "\n" + extra +
			"upstreams:\n  - name: desk\n    http: {url: \"http://127.0.0.1:1/mcp\"}\nagents:\n  - name: a\n    token_sha256: " + hash + "\n    workflow: a.yaml\n" + agentExtra
		path := filepath.Join(dir, "warden.yaml")
		if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		c, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	digest := func(t *testing.T, c *config.Config) string {
		t.Helper()
		d, err := policyDigest(c)
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	base := digest(t, write(t, "127.0.0.1:0", wf, "", ""))
	cases := []struct {
		name                            string
		listen, workflow, extra, agentX string
		same                            bool
	}{
		{"a copy elsewhere", "127.0.0.1:0", wf, "", "", true},
		{"another listen address", "127.0.0.1:9", wf, "", "", true},
		{"a workflow's content", "127.0.0.1:0", wf + "# changed\n", "", "", false},
		{"a throttle", "127.0.0.1:0", wf, "throttle: {agent: {per_minute: 1, burst: 1}}\n", "", false},
		{"a limit", "127.0.0.1:0", wf, "limits: {sessions_per_agent: 2}\n", "", false},
		{"a budget", "127.0.0.1:0", wf, "", "    budgets: [{tools: echo, max: 3, per: 1h}]\n", false},
		{"an agent's tools", "127.0.0.1:0", wf, "", "    tools: [echo]\n", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := digest(t, write(t, c.listen, c.workflow, c.extra, c.agentX)); (got == base) != c.same {
				t.Fatalf("digest %s against %s: same %v, want %v", got, base, got == base, c.same)
			}
		})
	}
}
