package config

import (
	"fmt"
	"strings"
	"testing"
)

func TestParseNilGetenv(t *testing.T) {
	_, err := Parse("w.yaml", []byte(envConfig), nil)
	if err == nil || !strings.Contains(err.Error(), "BOT_TOKEN is not set") {
		t.Fatalf("Parse with nil getenv = %v; want unset-variable errors", err)
	}
}

func TestHashToken(t *testing.T) {
	// Known SHA-256 of "secret" (printf %s secret | sha256sum).
	if got, want := HashToken("secret"), "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b"; got != want {
		t.Fatalf("HashToken = %s, want %s", got, want)
	}
}

func TestCheckToken(t *testing.T) {
	cfg, err := Parse("w.yaml", fix(minimal), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	loaded := cfg.Agents[0]
	handMade := &Agent{Name: "h", TokenSHA256: HashToken("token-a")}
	noHash := &Agent{Name: "none"}
	emptyHash := &Agent{Name: "e", TokenSHA256: HashToken("")}
	cases := []struct {
		name  string
		agent *Agent
		token string
		want  bool
	}{
		{"right token", loaded, "token-a", true},
		{"wrong token", loaded, "token-b", false},
		{"prefix of token", loaded, "token-", false},
		{"token plus suffix", loaded, "token-aa", false},
		{"empty token", loaded, "", false},
		{"the hash itself", loaded, hashA, false},
		{"hand-made agent right", handMade, "token-a", true},
		{"hand-made agent wrong", handMade, "x", false},
		{"agent without hash", noHash, "", false},
		{"agent without hash, some token", noHash, "token-a", false},
		{"hash of empty, empty token", emptyHash, "", false},
		{"nil agent", nil, "token-a", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := c.agent.CheckToken(c.token); got != c.want {
				t.Fatalf("CheckToken(%q) = %v, want %v", c.token, got, c.want)
			}
		})
	}
}

// agentsConfig has n agents whose tokens are token-0 ... token-(n-1).
func agentsConfig(n int) []byte {
	src := "upstreams:\n  - name: up\n    stdio: {command: x}\nagents:\n"
	for i := range n {
		src += fmt.Sprintf("  - name: a%d\n    token_sha256: %s\n", i, HashToken(fmt.Sprintf("token-%d", i)))
	}
	return []byte(src)
}

func TestAgentByToken(t *testing.T) {
	cfg, err := Parse("w.yaml", agentsConfig(5), noEnv)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		token, want string // want "" means no agent
	}{
		{"token-0", "a0"},
		{"token-3", "a3"},
		{"token-4", "a4"},
		{"token-5", ""},
		{"", ""},
		{HashToken("token-1"), ""},
	}
	for _, c := range cases {
		a, ok := cfg.AgentByToken(c.token)
		switch {
		case c.want == "" && (ok || a != nil):
			t.Errorf("AgentByToken(%q) = %v, %v; want no agent", c.token, a, ok)
		case c.want != "" && (!ok || a == nil || a.Name != c.want):
			t.Errorf("AgentByToken(%q) = %v, %v; want %s", c.token, a, ok, c.want)
		}
	}
}

func BenchmarkAgentByToken(b *testing.B) {
	cfg, err := Parse("w.yaml", agentsConfig(100), noEnv)
	if err != nil {
		b.Fatal(err)
	}
	for _, bc := range []struct{ name, token string }{{"first", "token-0"}, {"last", "token-99"}, {"none", "nope"}} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				cfg.AgentByToken(bc.token)
			}
		})
	}
}
