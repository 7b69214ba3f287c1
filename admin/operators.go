package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"

	"github.com/warden-dev/warden/supervisor"
)

// SharedName is who the shared admin token's holder is recorded as.
const SharedName = "admin"

// Operator is a person with their own admin token (admin.tokens): what
// they do through the API or the console is recorded under Name.
type Operator struct {
	Name        string
	TokenSHA256 string // lowercase hex SHA-256 of the token
}

// Operators are the named admin tokens, beside the shared one.
type Operators struct {
	names []string
	sums  [][sha256.Size]byte
}

// NewOperators checks and decodes the operators' names and hashes; no
// name may be SharedName or repeat.
func NewOperators(ops []Operator) (*Operators, error) {
	o := &Operators{}
	seen := map[string]bool{SharedName: true}
	for _, op := range ops {
		if op.Name == "" || seen[op.Name] {
			return nil, fmt.Errorf("admin operator %q: a name must be set, unique, and not %q", op.Name, SharedName)
		}
		seen[op.Name] = true
		var sum [sha256.Size]byte
		if n, err := hex.Decode(sum[:], []byte(op.TokenSHA256)); err != nil || n != sha256.Size || len(op.TokenSHA256) != 2*sha256.Size {
			return nil, fmt.Errorf("admin operator %q: token hash is not 64 hex digits", op.Name)
		}
		o.names = append(o.names, op.Name)
		o.sums = append(o.sums, sum)
	}
	return o, nil
}

// Who returns who a token is: a named operator, or SharedName for sup's
// admin token in force (a reload may rotate it). Every hash is compared,
// with no early exit, so the time taken does not tell which (if any)
// matched. A nil Operators knows only the shared token.
func (o *Operators) Who(sup *supervisor.Supervisor, token string) (string, bool) {
	shared := sup.IsAdminToken(token)
	if token == "" {
		return "", false
	}
	found := -1
	if o != nil {
		sum := sha256.Sum256([]byte(token))
		for i := range o.sums {
			found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], o.sums[i][:]), i, found)
		}
	}
	switch {
	case found >= 0:
		return o.names[found], true
	case shared:
		return SharedName, true
	}
	return "", false
}

// WithOperators lets these named tokens use the API too; what they do is
// recorded under their name, whatever a request's "by" says.
func WithOperators(o *Operators) Option {
	return func(s *server) { s.ops = o }
}

// actorKey keys the authenticated operator's name in a request's context.
type actorKey struct{}

// named returns the named operator a request was authenticated as; ""
// for the shared token, whose holder says who they are in "by".
func named(ctx context.Context) string {
	name, _ := ctx.Value(actorKey{}).(string)
	if name == SharedName {
		return ""
	}
	return name
}
