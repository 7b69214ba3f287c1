package e2e

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// TestAttackServeUnsetAgentToken: stdio may run with an agent's token_env
// unset (config.TokensOptional), serve never: an agent whose token is
// unset or empty would have no hash, and serve refuses to start, naming
// the variable, rather than serve an agent some empty or missing bearer
// might match.
func TestAttackServeUnsetAgentToken(t *testing.T) {
	bin := buildWarden(t)
	cfg := deskConfig(t, "", `agents:
  - name: desktop
    token_env: ATTACK_UNSET_TOKEN
`)
	for _, tc := range []struct {
		name string
		env  []string
	}{
		{"unset", nil},
		{"empty", []string{"ATTACK_UNSET_TOKEN="}},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, bin, "serve", "-c", cfg)
		cmd.Env = append([]string{"PATH=" + os.Getenv("PATH")}, tc.env...)
		out, err := cmd.CombinedOutput()
		cancel()
		if err == nil || !strings.Contains(string(out), "ATTACK_UNSET_TOKEN") {
			t.Errorf("serve with the agent's token variable %s: %v, want a refusal naming it:\n%s", tc.name, err, out)
		}
	}
}

// TestAttackEmptyBearer: no form of an empty or missing bearer token
// opens a session on serve.
func TestAttackEmptyBearer(t *testing.T) {
	bin := buildWarden(t)
	cfg, _ := shareConfig(t)
	serve := startServe(t, bin, cfg)
	for _, auth := range []string{"", "Bearer", "Bearer ", "Bearer  ", "bearer \t", "Basic ", "Bearer \"\""} {
		if got := initializeStatus(t, serve.url, auth, nil); got != http.StatusUnauthorized {
			t.Errorf("Authorization %q: status %d, want 401", auth, got)
		}
	}
}
