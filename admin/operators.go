package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"fmt"
	"sync"

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

// Operators are the named admin tokens, beside the shared one. A reload
// replaces them (Set): a token taken out of the configuration signs no
// one in from then on, and the console's logins made with it end.
type Operators struct {
	mu    sync.RWMutex
	names []string
	sums  [][sha256.Size]byte
}

// NewOperators checks and decodes the operators' names and hashes; no
// name may be SharedName or repeat.
func NewOperators(ops []Operator) (*Operators, error) {
	o := &Operators{}
	if err := o.Set(ops); err != nil {
		return nil, err
	}
	return o, nil
}

// Set replaces the named tokens with ops, checked as NewOperators checks
// them; on error nothing changes.
func (o *Operators) Set(ops []Operator) error {
	names, sums, err := decodeOperators(ops)
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	o.names, o.sums = names, sums
	return nil
}

// decodeOperators checks and decodes the operators' names and hashes.
func decodeOperators(ops []Operator) (names []string, sums [][sha256.Size]byte, err error) {
	seen := map[string]bool{SharedName: true}
	for _, op := range ops {
		if op.Name == "" || seen[op.Name] {
			return nil, nil, fmt.Errorf("admin operator %q: a name must be set, unique, and not %q", op.Name, SharedName)
		}
		seen[op.Name] = true
		var sum [sha256.Size]byte
		if n, err := hex.Decode(sum[:], []byte(op.TokenSHA256)); err != nil || n != sha256.Size || len(op.TokenSHA256) != 2*sha256.Size {
			return nil, nil, fmt.Errorf("admin operator %q: token hash is not 64 hex digits", op.Name)
		}
		names = append(names, op.Name)
		sums = append(sums, sum)
	}
	return names, sums, nil
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
	if name, ok := o.find(sha256.Sum256([]byte(token))); ok {
		return name, true
	}
	if shared {
		return SharedName, true
	}
	return "", false
}

// find returns the operator whose token has this SHA-256. Every hash is
// compared, with no early exit.
func (o *Operators) find(sum [sha256.Size]byte) (string, bool) {
	if o == nil {
		return "", false
	}
	o.mu.RLock()
	defer o.mu.RUnlock()
	found := -1
	for i := range o.sums {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(sum[:], o.sums[i][:]), i, found)
	}
	if found < 0 {
		return "", false
	}
	return o.names[found], true
}

// Holds reports whether the token with this SHA-256 still signs name in:
// the shared token in force for SharedName, else name's own. The console
// asks it on every request, so a reload that takes a token away ends the
// logins made with it.
func (o *Operators) Holds(sup *supervisor.Supervisor, name string, sum [sha256.Size]byte) bool {
	if name == SharedName {
		return sup.IsAdminTokenSum(sum)
	}
	got, ok := o.find(sum)
	return ok && got == name
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
