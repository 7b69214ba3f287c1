package config

import (
	"fmt"

	"github.com/goccy/go-yaml/ast"
)

// AdminToken is one person's admin token (admin.tokens): the web console
// records what they do under Name. The shared token (admin.token_sha256 or
// token_env) records as "admin".
type AdminToken struct {
	Name string
	// TokenSHA256 is the lowercase hex SHA-256 of the token; "" when
	// TokensOptional let its unset token_env pass.
	TokenSHA256 string
	// TokenEnv is the variable token_env named; "" with token_sha256.
	TokenEnv string
	// TokenFile is the absolute path of the file token_file named, or "".
	TokenFile string
}

// SharedAdminName is the name under which the shared admin token's
// actions are recorded.
const SharedAdminName = "admin"

// adminTokens reads admin.tokens: a list of {name, token_sha256 |
// token_env | token_file}.
// Names and tokens must be unique, and differ from the shared token's.
func (d *decoder) adminTokens(n ast.Node, shared string) []AdminToken {
	items, ok := d.list(n, "admin.tokens")
	if !ok {
		return nil
	}
	names := map[string]bool{SharedAdminName: true}
	sums := map[string]string{}
	if shared != "" {
		sums[shared] = SharedAdminName
	}
	var out []AdminToken
	for i, it := range items {
		what := fmt.Sprintf("admin.tokens[%d]", i)
		if na, null := it.(nilAt); null {
			d.errorf(na.Node, "%s is empty", what)
			continue
		}
		fields, ok := d.mapping(it, what, "name", "token_sha256", "token_env", "token_file")
		if !ok {
			continue
		}
		var t AdminToken
		var tokenFields []field
		for _, f := range fields {
			if f.name != "name" {
				tokenFields = append(tokenFields, f)
				continue
			}
			if f.val == nil {
				d.errorf(f.key, "%s.name is empty", what)
				continue
			}
			if s, ok := d.str(f.val, what+".name"); ok {
				if names[s] {
					d.errorf(f.val, "%s.name %q is taken (%q is the shared token's); names must be unique", what, s, SharedAdminName)
					continue
				}
				names[s] = true
				t.Name = s
			}
		}
		if t.Name == "" {
			d.errorf(it, "%s needs a name: what its holder's actions are recorded under", what)
		}
		t.TokenSHA256, _, t.TokenEnv, t.TokenFile = d.token(it, what, tokenFields)
		if t.TokenSHA256 != "" {
			if other, dup := sums[t.TokenSHA256]; dup {
				d.errorf(it, "%s has the same token as %q; each person needs their own", what, other)
			}
			sums[t.TokenSHA256] = t.Name
		}
		out = append(out, t)
	}
	return out
}
