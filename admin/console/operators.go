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
	if len(ops) == 0 {
		return nil, errNoOperators
	}
	out := make([]operatorHash, 0, len(ops))
	seen := map[string]bool{}
	for _, o := range ops {
		if o.Name == "" {
			return nil, fmt.Errorf("console: an operator has no name")
		}
		if seen[o.Name] {
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

// operatorFor returns the name of the operator whose token this is. Every
// hash is compared, with no early exit, so the time taken does not tell
// which operator (if any) matched.
func operatorFor(ops []operatorHash, token string) (string, bool) {
	if token == "" {
		return "", false
	}
	sum := sha256.Sum256([]byte(token))
	found := -1
	for i, o := range ops {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], o.sum[:]), i, found)
	}
	if found < 0 {
		return "", false
	}
	return ops[found].name, true
}
