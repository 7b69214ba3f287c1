package eval

import (
	"fmt"
	"reflect"
	"sort"
	"sync"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/vm"
)

// Kind says what an expression is for, which fixes the type it must have.
type Kind int

// The kinds of expression.
const (
	Guard   Kind = iota // a step's guard or a rule's `when`: bool
	Binding             // a binding's value: any type
)

// Program is one compiled expression, ready to run many times.
type Program struct {
	src    string
	kind   Kind
	prog   *vm.Program
	vars   []string
	result bool
	reads  Reads
	// vms are machines to run prog on, reused: expr.Run makes a VM and
	// its stack at every run, and a replay runs each expression hundreds
	// of thousands of times. A pointer, so that a Program's copy shares it.
	vms *sync.Pool
}

// Compile parses and type-checks src against Env, with expr's builtins and
// warden's helpers: rows(x) (a result as a list of rows), urls(text),
// emails(text) (extraction from free text, the weakest source) and
// host(url). A guard must be boolean.
// The error says what is wrong, with the column inside src.
func Compile(src string, kind Kind) (*Program, error) {
	opts := append([]expr.Option{expr.Env(Env{})}, funcOptions()...)
	if kind == Guard {
		opts = append(opts, expr.AsBool())
	}
	prog, err := expr.Compile(src, opts...)
	if err != nil {
		return nil, fmt.Errorf("expression %q does not compile: %w", src, err)
	}
	if kind == Guard {
		// expr.AsBool lets through what has no static type (a value the
		// caller sends, like args.path), which would fail at every call.
		if t := prog.Node().Type(); t == nil || t.Kind() != reflect.Bool {
			return nil, fmt.Errorf("expression %q is not a condition: it can give any value (such as an argument as the caller sent it), not only true or false; compare it, e.g. `args.confirm == true` or `args.path != \"\"`", src)
		}
	}
	p := &Program{src: src, kind: kind, prog: prog, vms: &sync.Pool{New: func() any { return new(vm.VM) }}}
	p.vars, p.result = scan(prog.Node())
	p.reads = scanReads(prog.Node())
	return p, nil
}

// Source returns the expression as written.
func (p *Program) Source() string { return p.src }

// Vars returns the session variables that the expression reads
// (vars.X or session.vars.X), sorted.
func (p *Program) Vars() []string { return p.vars }

// UsesResult reports whether the expression reads the call's result.
func (p *Program) UsesResult() bool { return p.result }

// Run evaluates the expression.
func (p *Program) Run(env *Env) (any, error) {
	m := p.vms.Get().(*vm.VM)
	out, err := m.Run(p.prog, env)
	p.vms.Put(m)
	if err != nil {
		return nil, fmt.Errorf("expression %q: %w", p.src, err)
	}
	return out, nil
}

// Bool evaluates a boolean expression; anything but a bool is an error.
func (p *Program) Bool(env *Env) (bool, error) {
	out, err := p.Run(env)
	if err != nil {
		return false, err
	}
	b, ok := out.(bool)
	if !ok {
		return false, fmt.Errorf("expression %q gave %T, want bool", p.src, out)
	}
	return b, nil
}

// scan walks the checked tree for vars.X, session.vars.X and result.
func scan(root ast.Node) ([]string, bool) {
	v := &scanner{seen: map[string]bool{}}
	ast.Walk(&root, v)
	names := make([]string, 0, len(v.seen))
	for n := range v.seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, v.result
}

type scanner struct {
	seen   map[string]bool
	result bool
}

func (s *scanner) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == "result" {
			s.result = true
		}
	case *ast.MemberNode:
		if isVars(n.Node) {
			if name, ok := n.Property.(*ast.StringNode); ok {
				s.seen[name.Value] = true
			}
		}
	}
}

// isVars reports whether node is `vars` or `session.vars`.
func isVars(node ast.Node) bool {
	switch n := node.(type) {
	case *ast.IdentifierNode:
		return n.Value == "vars"
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		prop, ok2 := n.Property.(*ast.StringNode)
		return ok && ok2 && id.Value == "session" && prop.Value == "vars"
	}
	return false
}
