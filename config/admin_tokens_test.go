package config

import (
	"strings"
	"testing"
)

// TestAdminTokens: admin.tokens names a token per person beside the shared
// one; names and tokens must be unique, "admin" is the shared token's
// name, and each entry needs a name and exactly one token.
func TestAdminTokens(t *testing.T) {
	hashB := HashToken("token-b")
	cases := []struct {
		name    string
		tokens  string
		wantErr string
		want    []AdminToken
	}{
		{name: "named", tokens: "    - {name: alice, token_sha256: " + hashB + "}\n    - {name: bob, token_env: BOB_TOKEN}\n",
			want: []AdminToken{{Name: "alice", TokenSHA256: hashB}, {Name: "bob", TokenSHA256: HashToken("bob-secret"), TokenEnv: "BOB_TOKEN"}}},
		{name: "a name twice", tokens: "    - {name: alice, token_sha256: " + hashB + "}\n    - {name: alice, token_env: BOB_TOKEN}\n", wantErr: `name "alice" is taken`},
		{name: "the shared name", tokens: "    - {name: admin, token_sha256: " + hashB + "}\n", wantErr: `name "admin" is taken`},
		{name: "the shared token", tokens: "    - {name: alice, token_sha256: " + hashA + "}\n", wantErr: `same token as "admin"`},
		{name: "one token twice", tokens: "    - {name: alice, token_sha256: " + hashB + "}\n    - {name: bob, token_sha256: " + hashB + "}\n", wantErr: `same token as "alice"`},
		{name: "no name", tokens: "    - {token_sha256: " + hashB + "}\n", wantErr: "needs a name"},
		{name: "no token", tokens: "    - {name: alice}\n", wantErr: "admin.tokens[0] needs a token"},
		{name: "two tokens", tokens: "    - {name: alice, token_sha256: " + hashB + ", token_env: BOB_TOKEN}\n", wantErr: "keep one"},
		{name: "unknown field", tokens: "    - {name: alice, token: x}\n", wantErr: `unknown field "token"`},
		{name: "unset variable", tokens: "    - {name: alice, token_env: NOT_SET}\n", wantErr: "NOT_SET"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			src := strings.ReplaceAll(minimal, "$H", hashA) + "admin:\n  token_sha256: " + hashA + "\n  tokens:\n" + tc.tokens
			cfg, err := Parse("w.yaml", []byte(src), envOf("BOB_TOKEN", "bob-secret"))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one that says %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Admin.TokenSHA256 != hashA || len(cfg.Admin.Tokens) != len(tc.want) {
				t.Fatalf("admin = %+v", cfg.Admin)
			}
			for i, w := range tc.want {
				if cfg.Admin.Tokens[i] != w {
					t.Errorf("tokens[%d] = %+v, want %+v", i, cfg.Admin.Tokens[i], w)
				}
			}
		})
	}
}
