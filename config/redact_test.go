package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestSummaryHasNoSecrets(t *testing.T) {
	// envConfig plus an admin token from the environment and an upstream
	// whose URL carries credentials.
	src := strings.Replace(envConfig+"admin: {token_env: ADMIN_TOKEN}\n", "agents:\n", `  - name: urlcreds
    sse: {url: "https://user:urlpass@mcp.example.com/sse?key=querysecret"}
agents:
`, 1)
	secrets := []string{"k-123", "pw-456", "tok-789", "bot-secret", "adm-000", "urlpass", "querysecret"}
	env := envOf("API_KEY", secrets[0], "DB_PASSWORD", secrets[1], "UPSTREAM_TOKEN", secrets[2], "BOT_TOKEN", secrets[3], "ADMIN_TOKEN", secrets[4])
	cfg, err := Parse("w.yaml", []byte(src), env)
	if err != nil {
		t.Fatal(err)
	}
	// The secrets did reach the config, so their absence below means something.
	if cfg.Upstreams[1].Remote.Headers["Authorization"] != "Bearer tok-789" {
		t.Fatalf("header not expanded: %q", cfg.Upstreams[1].Remote.Headers["Authorization"])
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Info("loaded", "config", cfg, "upstream", cfg.Upstreams[1])
	hashes := []string{cfg.Agents[0].TokenSHA256, cfg.Admin.TokenSHA256}
	outputs := map[string]string{
		"String":        cfg.String(),
		"%v":            fmt.Sprintf("%v", cfg),
		"%+v":           fmt.Sprintf("%+v", cfg),
		"%#v":           fmt.Sprintf("%#v", cfg),
		"%+v of *cfg":   fmt.Sprintf("%+v", *cfg),
		"upstreams %+v": fmt.Sprintf("%+v", cfg.Upstreams),
		"stdio %v":      fmt.Sprintf("%v", cfg.Upstreams[0].Stdio),
		"agents %#v":    fmt.Sprintf("%#v", cfg.Agents),
		"slog":          logged.String(),
	}
	for name, out := range outputs {
		for _, s := range append(secrets, hashes...) {
			if strings.Contains(out, s) {
				t.Errorf("%s output contains secret %q:\n%s", name, s, out)
			}
		}
	}
	// The summary still says what is configured.
	for _, part := range []string{"name=local", "command=server", "env=[DB_PASSWORD,PLAIN]", "headers=[Authorization]", "url=https://mcp.example.com/sse", "name=bot",
		"name=local transport=stdio call_timeout=1m0s sessions=per_agent max_sessions=16 session_idle_timeout=30m0s spare_sessions=1",
		"name=remote transport=http call_timeout=1m0s sessions=per_session max_sessions=256 session_idle_timeout=30m0s spare_sessions=0"} {
		if !strings.Contains(outputs["String"], part) {
			t.Errorf("summary lacks %q:\n%s", part, outputs["String"])
		}
	}
}

// TestSummaryOfSharedUpstream shows the mode, and no pool settings, which
// do not apply to it.
func TestSummaryOfSharedUpstream(t *testing.T) {
	cfg, err := Parse("w.yaml", fix(upstreamWith("sessions: shared")), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Upstreams[0].String()
	if !strings.Contains(got, " sessions=shared") || strings.Contains(got, "max_sessions") || strings.Contains(got, "spare_sessions") {
		t.Fatalf("summary %q; want sessions=shared and no pool settings", got)
	}
}
