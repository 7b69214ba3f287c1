package config

import (
	"strings"
	"testing"
)

// TestTokensOptional: an unset token_env fails a load, unless the caller
// authenticates nobody by token (warden stdio); then the agent or admin
// API gets no token, which nothing matches, and the admin keeps the name.
func TestTokensOptional(t *testing.T) {
	const text = `admin: {token_env: T_ADMIN}
upstreams:
  - name: u
    http: {url: "http://127.0.0.1:1/mcp"}
agents:
  - name: a
    token_env: T_A
  - name: b
    token_env: T_B
`
	cases := []struct {
		name    string
		opts    []Option
		wantErr []string
	}{
		{name: "required", wantErr: []string{"T_ADMIN is not set", "T_A is not set", "T_B is not set"}},
		{name: "optional", opts: []Option{TokensOptional()}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Parse("w.yaml", []byte(text), nil, tc.opts...)
			if len(tc.wantErr) > 0 {
				for _, w := range tc.wantErr {
					if err == nil || !strings.Contains(err.Error(), w) {
						t.Errorf("error %v does not say %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Admin.TokenSHA256 != "" || cfg.Admin.TokenEnv != "T_ADMIN" {
				t.Errorf("admin = %+v, want no token and its variable's name", cfg.Admin)
			}
			for _, a := range cfg.Agents {
				if a.TokenSHA256 != "" || a.CheckToken("x") {
					t.Errorf("agent %s has a token: %+v", a.Name, a)
				}
			}
			if _, ok := cfg.AgentByToken(""); ok {
				t.Error("the empty token found an agent")
			}
		})
	}
}
