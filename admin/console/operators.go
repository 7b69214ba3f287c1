package console

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
)

// operatorHash is an Operator with its token hash decoded.
type operatorHash struct {
	name string
	sum  [sha256.Size]byte
}

// hashOperators decodes and checks the operators' hashes and names.
func hashOperators(ops []Operator) ([]operatorHash, error) {
	out := make([]operatorHash, 0, len(ops))
	seen := map[string]bool{}
	for _, o := range ops {
		if o.Name == "" {
			return nil, fmt.Errorf("console: an operator has no name")
		}
		if seen[o.Name] || o.Name == SharedName {
			return nil, fmt.Errorf("console: operator %q is named twice", o.Name)
		}
		seen[o.Name] = true
		b, err := hex.DecodeString(o.TokenSHA256)
		if err != nil || len(b) != sha256.Size {
			return nil, fmt.Errorf("console: operator %q: token hash is not 64 hex digits", o.Name)
		}
		h := operatorHash{name: o.Name}
		copy(h.sum[:], b)
		out = append(out, h)
	}
	return out, nil
}

// SharedName is the name under which the shared admin token's actions
// are recorded.
const SharedName = "admin"

// operatorFor returns who this token signs in: a named operator, or
// SharedName for the shared admin token in force (which a reload may
// replace). Every named hash is compared, with no early exit, so the time
// taken does not tell which operator (if any) matched.
func (c *console) operatorFor(token string) (string, bool) {
	if token == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, o := range c.ops {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], o.sum[:]), i, found)
	}
	shared := c.sup.IsAdminToken(token)
	switch {
	case found >= 0:
		return c.ops[found].name, true
	case shared:
		return SharedName, true
	}
	return "", false
}
