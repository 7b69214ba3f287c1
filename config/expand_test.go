package config

import (
	"strings"
	"testing"
)

func TestExpand(t *testing.T) {
	env := envOf("TOKEN", "s3cr3t", "EMPTY", "", "A_1", "x")
	cases := []struct {
		in, want, err string
	}{
		{in: "plain", want: "plain"},
		{in: "Bearer ${TOKEN}", want: "Bearer s3cr3t"},
		{in: "${A_1}${TOKEN}", want: "xs3cr3t"},
		{in: "cost $5 and $$ and $${TOKEN}", want: "cost $5 and $ and ${TOKEN}"},
		{in: "trailing $", want: "trailing $"},
		{in: "$TOKEN", want: "$TOKEN"}, // only the braced form expands
		{in: "${MISSING}", err: "environment variable MISSING is not set or empty"},
		{in: "${EMPTY}", err: "EMPTY is not set or empty"},
		{in: "${TOKEN", err: "unterminated ${"},
		{in: "${}", err: "does not name an environment variable"},
		{in: "${1X}", err: "does not name an environment variable"},
		{in: "${A-B}", err: "does not name an environment variable"},
	}
	for _, c := range cases {
		t.Run(c.in, func(t *testing.T) {
			got, err := expand(c.in, env)
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Fatalf("expand(%q) = %q, %v; want error containing %q", c.in, got, err, c.err)
				}
				return
			}
			if err != nil || got != c.want {
				t.Fatalf("expand(%q) = %q, %v; want %q", c.in, got, err, c.want)
			}
		})
	}
}

// envConfig uses ${VAR} in every place that expands.
const envConfig = `upstreams:
  - name: local
    stdio:
      command: server
      args: [--key, "${API_KEY}"]
      env: {DB_PASSWORD: "${DB_PASSWORD}", PLAIN: "1"}
  - name: remote
    http:
      url: https://mcp.example.com/mcp
      headers: {Authorization: "Bearer ${UPSTREAM_TOKEN}"}
agents:
  - name: bot
    token_env: BOT_TOKEN
`

func TestParseExpandsEnvironment(t *testing.T) {
	env := envOf("API_KEY", "k-123", "DB_PASSWORD", "pw-456", "UPSTREAM_TOKEN", "tok-789", "BOT_TOKEN", "bot-secret")
	cfg, err := Parse("w.yaml", []byte(envConfig), env)
	if err != nil {
		t.Fatal(err)
	}
	local, remote := cfg.Upstreams[0].Stdio, cfg.Upstreams[1].Remote
	checks := []struct{ name, got, want string }{
		{"arg", local.Args[1], "k-123"},
		{"env", local.Env["DB_PASSWORD"], "pw-456"},
		{"plain env", local.Env["PLAIN"], "1"},
		{"header", remote.Headers["Authorization"], "Bearer tok-789"},
		{"token_env hash", cfg.Agents[0].TokenSHA256, HashToken("bot-secret")},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %q, want %q", c.name, c.got, c.want)
		}
	}
	if !cfg.Agents[0].CheckToken("bot-secret") {
		t.Error("token read from token_env does not check")
	}
}

func TestParseEnvironmentErrors(t *testing.T) {
	// Nothing set: every expansion and the token_env fail, each at its node.
	mustFail(t, []byte(envConfig), noEnv,
		want{5, 21, `upstream "local".stdio.args[1]: environment variable API_KEY is not set`},
		want{6, 26, `upstream "local".stdio.env.DB_PASSWORD: environment variable DB_PASSWORD is not set`},
		want{10, 32, `upstream "remote".http.headers.Authorization: environment variable UPSTREAM_TOKEN is not set`},
		want{13, 16, `agent "bot".token_env: environment variable BOT_TOKEN is not set or empty`},
	)
	// A header that expands to a line break would let a value inject headers.
	env := envOf("API_KEY", "k", "DB_PASSWORD", "p", "UPSTREAM_TOKEN", "a\r\nX-Evil: 1", "BOT_TOKEN", "b")
	mustFail(t, []byte(envConfig), env, want{10, 32, "holds a line break"})
}
