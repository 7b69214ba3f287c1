package eval

import (
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
)

// Reads are the parts of a call's arguments that an expression reads:
// paths of object keys into args (call.args), or All when it reads them in
// a way that cannot be pinned down (args as a whole, a dynamic key). What
// an approver approved covers later calls only where these agree.
type Reads struct {
	Paths [][]string // sorted, without duplicates
	All   bool
}

// Merge adds o's reads to r.
func (r *Reads) Merge(o Reads) {
	if o.All {
		r.All = true
	}
	for _, p := range o.Paths {
		if !slices.ContainsFunc(r.Paths, func(q []string) bool { return slices.Equal(p, q) }) {
			r.Paths = append(r.Paths, p)
		}
	}
	slices.SortFunc(r.Paths, func(a, b []string) int { return strings.Compare(strings.Join(a, "\x00"), strings.Join(b, "\x00")) })
}

// Reads returns the argument paths the expression reads.
func (p *Program) Reads() Reads { return p.reads }

// root says what a resolved node stands for.
type root int

const (
	rootArgs  root = iota + 1 // args, call.args, $env.args and paths below them
	rootCall                  // call, $env.call
	rootEnv                   // $env
	rootOther                 // a field of call or $env that is not args
)

type resolved struct {
	root root
	path []string
}

// readScanner resolves member chains rooted at args. ast.Walk visits
// children before their parent, so a chain's prefix is resolved before the
// chain and is then marked as consumed by it; what is left unconsumed at
// the end is what the expression reads as such.
type readScanner struct {
	nodes    map[ast.Node]resolved
	consumed map[ast.Node]bool
}

func (s *readScanner) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch n.Value {
		case "args":
			s.nodes[n] = resolved{root: rootArgs}
		case "call":
			s.nodes[n] = resolved{root: rootCall}
		case "$env":
			s.nodes[n] = resolved{root: rootEnv}
		}
	case *ast.MemberNode:
		inner, ok := s.nodes[n.Node]
		prop, isKey := n.Property.(*ast.StringNode)
		if !ok || !isKey {
			return // a dynamic key or an index: the prefix stays read whole
		}
		var r resolved
		switch {
		case inner.root == rootArgs:
			r = resolved{root: rootArgs, path: append(slices.Clip(inner.path), prop.Value)}
		case (inner.root == rootCall || inner.root == rootEnv) && prop.Value == "args":
			r = resolved{root: rootArgs}
		case inner.root == rootEnv && prop.Value == "call":
			r = resolved{root: rootCall}
		default:
			r = resolved{root: rootOther}
		}
		s.nodes[n] = r
		s.consumed[n.Node] = true
	}
}

// scanReads finds the argument paths an expression reads.
func scanReads(root ast.Node) Reads {
	s := &readScanner{nodes: map[ast.Node]resolved{}, consumed: map[ast.Node]bool{}}
	ast.Walk(&root, s)
	var out Reads
	for n, r := range s.nodes {
		if s.consumed[n] {
			continue
		}
		switch {
		case r.root == rootArgs && len(r.path) > 0:
			out.Merge(Reads{Paths: [][]string{r.path}})
		case r.root == rootArgs || r.root == rootCall || r.root == rootEnv:
			out.All = true
		}
	}
	return out
}
