package config

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"strings"

	"github.com/goccy/go-yaml/ast"
)

// emptyTokenHash is HashToken(""); a config that stores it would let an
// empty bearer token in, so it is refused.
var emptyTokenHash = HashToken("")

// HashToken returns the lowercase hex SHA-256 of a token, the form in
// which configs and the store keep tokens.
func HashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// CheckToken reports whether token is this agent's token. The comparison
// takes the same time wherever the hashes differ; an empty token never
// matches.
func (a *Agent) CheckToken(token string) bool {
	if a == nil || token == "" {
		return false
	}
	sum := sha256.Sum256([]byte(token))
	return a.matches(&sum) == 1
}

// matches is 1 when sum equals the agent's stored hash, else 0. An agent
// built by hand without a hash (all zeros) matches nothing.
func (a *Agent) matches(sum *[32]byte) int {
	if a.hash == [32]byte{} {
		// Built by hand rather than loaded: fall back to the hex field.
		want, err := hex.DecodeString(a.TokenSHA256)
		if err != nil || len(want) != sha256.Size {
			return 0
		}
		return subtle.ConstantTimeCompare(sum[:], want)
	}
	return subtle.ConstantTimeCompare(sum[:], a.hash[:])
}

// AgentByToken finds the agent whose token this is. Every agent's hash is
// compared, with no early exit, so the time taken does not tell which
// agent (if any) matched. Names and hashes are unique after validation,
// so at most one agent matches.
func (c *Config) AgentByToken(token string) (*Agent, bool) {
	if token == "" {
		return nil, false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, a := range c.Agents {
		found = subtle.ConstantTimeSelect(a.matches(&sum), i, found)
	}
	if found < 0 {
		return nil, false
	}
	return c.Agents[found], true
}

// token reads exactly one of token_sha256 / token_env / token_file for
// owner (an agent or the admin API) whose mapping is n, returning the hash
// in hex and raw, the variable token_env names if it does, and the token
// file's absolute path if one was named (a reload reads it again).
func (d *decoder) token(n ast.Node, owner string, fields []field) (sum string, raw [32]byte, env, file string) {
	if len(fields) == 0 {
		d.errorf(n, "%s needs a token: set token_sha256 (hex SHA-256 of the token), token_env (variable holding it) or token_file (file holding it)", owner)
		return "", raw, "", ""
	}
	if len(fields) > 1 {
		d.errorf(fields[1].key, "%s sets both %s and %s; keep one", owner, fields[0].name, fields[1].name)
		return "", raw, "", ""
	}
	f := fields[0]
	if f.val == nil {
		d.errorf(f.key, "%s.%s is empty", owner, f.name)
		return "", raw, "", ""
	}
	s, ok := d.str(f.val, owner+"."+f.name)
	if !ok {
		return "", raw, "", ""
	}
	switch f.name {
	case "token_sha256":
		sum = strings.ToLower(strings.TrimSpace(s))
		if b, err := hex.DecodeString(sum); err != nil || len(b) != sha256.Size {
			d.errorf(f.val, "%s.token_sha256 must be 64 hex digits (a SHA-256), got %d characters", owner, len(s))
			return "", raw, "", ""
		}
	case "token_env":
		if !validEnvName(s) {
			d.errorf(f.val, "%s.token_env %q is not an environment variable name", owner, s)
			return "", raw, "", ""
		}
		env = s
		tok := d.getenv(s)
		if tok == "" && d.optionalTokens {
			return "", raw, env, ""
		}
		if tok == "" {
			d.unset(f.val, owner+".token_env", s)
			return "", raw, env, ""
		}
		sum = HashToken(tok)
	case "token_file":
		file = d.path(s)
		tok, err := readTokenFile(file)
		if err != nil {
			d.errorf(f.val, "%s.token_file: %v", owner, err)
			return "", raw, "", ""
		}
		sum = HashToken(tok)
	}
	if sum == emptyTokenHash {
		d.errorf(f.val, "%s.%s is the hash of the empty token, which would let anyone in", owner, f.name)
		return "", raw, "", ""
	}
	hex.Decode(raw[:], []byte(sum))
	return sum, raw, env, file
}
