package config

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/token"
)

// decoder walks a parsed YAML tree into a Config, collecting every
// problem instead of stopping at the first.
type decoder struct {
	file    string              // file name as given, for messages
	dir     string              // absolute directory relative paths start from
	getenv  func(string) string // environment for ${VAR} and token_env
	anchors map[string]ast.Node // &name -> value, for resolving *name
	errs    Errors
	// files, when set, are checked to exist: the workflow and rules
	// files the config names (nil for Parse, which may be given paths of
	// files that are not there yet).
	files func(string) error
	// unsetWarns says that a variable the config names but the
	// environment does not hold is a warning, not an error: the config
	// is being checked (warden validate), not served.
	unsetWarns bool
	warns      Errors
	// optionalTokens lets an unset token_env pass (TokensOptional).
	optionalTokens bool
}

// unset records that the environment variable name, named at n for what,
// is not set: an error when serving, a warning when only checking.
func (d *decoder) unset(n ast.Node, what, name string) {
	if d.unsetWarns {
		line, col := position(n)
		d.warns = append(d.warns, &Error{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf("%s: environment variable %s is not set (it must be when warden runs)", what, name)})
		return
	}
	d.errorf(n, "%s: environment variable %s is not set or empty", what, name)
}

// existing returns the absolute path p after checking, when files are
// checked, that it can be read; what names the field, for the message.
func (d *decoder) existing(n ast.Node, what, p string) (string, bool) {
	p = d.path(p)
	if d.files == nil {
		return p, true
	}
	if err := d.files(p); err != nil {
		d.errorf(n, "%s: %v", what, err)
		return "", false
	}
	return p, true
}

// maxAliasDepth bounds alias chains, which a hostile file could make cyclic.
const maxAliasDepth = 32

// errorf records a problem at node n.
func (d *decoder) errorf(n ast.Node, format string, args ...any) {
	line, col := position(n)
	d.errs = append(d.errs, &Error{File: d.file, Line: line, Col: col, Msg: fmt.Sprintf(format, args...)})
}

// position is where a node starts. go-yaml gives a block mapping the token
// of its first ':' and a key/value pair the token of its ':', so both are
// mapped back to their first key, which is where a reader looks.
func position(n ast.Node) (line, col int) {
	switch v := n.(type) {
	case *ast.MappingNode:
		if len(v.Values) > 0 && !v.IsFlowStyle {
			return position(v.Values[0])
		}
	case *ast.MappingValueNode:
		if v.Key != nil {
			return position(v.Key)
		}
	}
	line, col = 1, 1
	if n != nil {
		if tk := n.GetToken(); tk != nil && tk.Position != nil {
			line, col = max(tk.Position.Line, 1), max(tk.Position.Column, 1)
		}
	}
	return line, col
}

// collectAnchors records every &anchor under n so *aliases resolve
// wherever they appear, whatever order the decoder visits fields in.
func (d *decoder) collectAnchors(n ast.Node) {
	ast.Walk(visitFunc(func(n ast.Node) {
		if a, ok := n.(*ast.AnchorNode); ok && a.Name != nil {
			d.anchors[a.Name.GetToken().Value] = a.Value
		}
	}), n)
}

// visitFunc adapts a function to ast.Visitor.
type visitFunc func(ast.Node)

// Visit calls f and keeps walking.
func (f visitFunc) Visit(n ast.Node) ast.Visitor {
	f(n)
	return f
}

// resolve strips anchors and tags and follows aliases, returning the node
// that holds the value (nil stays nil).
func (d *decoder) resolve(n ast.Node) ast.Node {
	for range maxAliasDepth {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		case *ast.AliasNode:
			name := ""
			if v.Value != nil {
				name = v.Value.GetToken().Value
			}
			target, ok := d.anchors[name]
			if !ok {
				d.errorf(v, "alias *%s has no anchor &%s", name, name)
				return nil
			}
			n = target
		default:
			return n
		}
	}
	d.errorf(n, "aliases nest too deeply (more than %d)", maxAliasDepth)
	return nil
}

// kind names a node's type for messages.
func kind(n ast.Node) string {
	switch n.(type) {
	case nil, *ast.NullNode:
		return "null"
	case *ast.MappingNode, *ast.MappingValueNode:
		return "a mapping"
	case *ast.SequenceNode:
		return "a list"
	case *ast.StringNode, *ast.LiteralNode:
		return "a string"
	case *ast.IntegerNode:
		return "an integer"
	case *ast.FloatNode, *ast.InfinityNode, *ast.NanNode:
		return "a number"
	case *ast.BoolNode:
		return "a boolean"
	}
	return strings.ToLower(n.Type().String())
}

// isNull reports whether a resolved node is absent or YAML null.
func isNull(n ast.Node) bool {
	_, null := n.(*ast.NullNode)
	return n == nil || null
}

// field is one key/value pair of a mapping, with the key's text.
type field struct {
	name string
	key  ast.Node
	val  ast.Node // resolved; nil for null
}

// mapping returns the pairs of a mapping node, reporting keys that are
// not in known (with a suggestion) and keys that are not strings. what
// names the mapping in messages. ok is false when n is not a mapping.
func (d *decoder) mapping(n ast.Node, what string, known ...string) (fields []field, ok bool) {
	var pairs []*ast.MappingValueNode
	switch v := n.(type) {
	case *ast.MappingNode:
		pairs = v.Values
	case *ast.MappingValueNode:
		pairs = []*ast.MappingValueNode{v}
	default:
		d.errorf(n, "%s must be a mapping, got %s", what, kind(n))
		return nil, false
	}
	seen := map[string]ast.Node{}
	for _, p := range pairs {
		if p == nil || p.Key == nil {
			continue
		}
		if _, merge := p.Key.(*ast.MergeKeyNode); merge {
			d.errorf(p.Key, "merge keys (<<) are not supported in %s; write the fields out", what)
			continue
		}
		key, isStr := d.resolve(p.Key).(*ast.StringNode)
		if !isStr {
			d.errorf(p.Key, "%s has a key that is %s; keys must be field names", what, kind(d.resolve(p.Key)))
			continue
		}
		if first, dup := seen[key.Value]; dup {
			line, col := position(first)
			d.errorf(p.Key, "%s has %q twice (first at %d:%d)", what, key.Value, line, col)
			continue
		}
		seen[key.Value] = p.Key
		if known != nil && !contains(known, key.Value) {
			msg := fmt.Sprintf("unknown field %q in %s", key.Value, what)
			if s := suggest(key.Value, known); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			d.errorf(p.Key, "%s", msg)
			continue
		}
		val := d.resolve(p.Value)
		if isNull(val) {
			val = nil
		}
		fields = append(fields, field{name: key.Value, key: p.Key, val: val})
	}
	return fields, true
}

// str reads a scalar as text. Numbers and booleans are accepted in their
// source spelling, since args like "--port 3000" are common.
func (d *decoder) str(n ast.Node, what string) (string, bool) {
	switch v := n.(type) {
	case *ast.StringNode:
		return v.Value, true
	case *ast.LiteralNode:
		if v.Value != nil {
			return v.Value.Value, true
		}
		return "", true
	case *ast.IntegerNode, *ast.FloatNode, *ast.BoolNode, *ast.InfinityNode, *ast.NanNode:
		return v.GetToken().Value, true
	}
	d.errorf(n, "%s must be a string, got %s", what, kind(n))
	return "", false
}

// nonEmpty reads a string that must not be empty.
func (d *decoder) nonEmpty(n ast.Node, what string) (string, bool) {
	s, ok := d.str(n, what)
	if ok && strings.TrimSpace(s) == "" {
		d.errorf(n, "%s must not be empty", what)
		return "", false
	}
	return s, ok
}

// duration reads a positive Go duration such as 30s or 1m30s.
func (d *decoder) duration(n ast.Node, what string) (time.Duration, bool) {
	if _, isInt := n.(*ast.IntegerNode); isInt {
		d.errorf(n, "%s %s needs a unit, e.g. %ss", what, n.GetToken().Value, n.GetToken().Value)
		return 0, false
	}
	s, ok := d.str(n, what)
	if !ok {
		return 0, false
	}
	dur, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		d.errorf(n, "%s %q is not a duration (use e.g. 500ms, 30s, 5m, 1h)", what, s)
		return 0, false
	}
	if dur <= 0 {
		d.errorf(n, "%s must be positive, got %s", what, s)
		return 0, false
	}
	return dur, true
}

// integer reads a whole number.
func (d *decoder) integer(n ast.Node, what string) (int64, bool) {
	v, isInt := n.(*ast.IntegerNode)
	if !isInt {
		// go-yaml turns integers too big for 64 bits into strings.
		if s, isStr := n.(*ast.StringNode); isStr && s.Token.Type == token.StringType && digits(strings.TrimLeft(s.Value, "+-")) {
			d.errorf(n, "%s %s is out of range", what, s.Value)
			return 0, false
		}
		d.errorf(n, "%s must be an integer, got %s", what, kind(n))
		return 0, false
	}
	switch i := v.Value.(type) {
	case int64:
		return i, true
	case uint64:
		if i <= 1<<63-1 {
			return int64(i), true
		}
	}
	// Fall back to the source text for forms go-yaml keeps differently.
	i, err := strconv.ParseInt(strings.ReplaceAll(v.GetToken().Value, "_", ""), 0, 64)
	if err != nil {
		d.errorf(n, "%s %s is out of range", what, v.GetToken().Value)
		return 0, false
	}
	return i, true
}

// list reads a sequence, returning its resolved items.
func (d *decoder) list(n ast.Node, what string) ([]ast.Node, bool) {
	seq, ok := n.(*ast.SequenceNode)
	if !ok {
		d.errorf(n, "%s must be a list, got %s", what, kind(n))
		return nil, false
	}
	items := make([]ast.Node, 0, len(seq.Values))
	for _, it := range seq.Values {
		r := d.resolve(it)
		if isNull(r) {
			r = nilAt{it}
		}
		items = append(items, r)
	}
	return items, true
}

// nilAt stands for a null list item while keeping its position for messages.
type nilAt struct{ ast.Node }

// strList reads a list of strings; items that are not strings are reported.
func (d *decoder) strList(n ast.Node, what string) (vals []string, nodes []ast.Node, ok bool) {
	items, ok := d.list(n, what)
	if !ok {
		return nil, nil, false
	}
	ok = true
	for i, it := range items {
		if na, null := it.(nilAt); null {
			d.errorf(na.Node, "%s[%d] must be a string, got null", what, i)
			ok = false
			continue
		}
		s, good := d.str(it, fmt.Sprintf("%s[%d]", what, i))
		if !good {
			ok = false
			continue
		}
		vals = append(vals, s)
		nodes = append(nodes, it)
	}
	return vals, nodes, ok
}

// strMap reads a mapping of strings to strings (env, headers).
func (d *decoder) strMap(n ast.Node, what string) (keys, vals []string, valNodes []ast.Node, ok bool) {
	fields, ok := d.mapping(n, what)
	if !ok {
		return nil, nil, nil, false
	}
	for _, f := range fields {
		if f.val == nil {
			d.errorf(f.key, "%s.%s has no value", what, f.name)
			ok = false
			continue
		}
		s, good := d.str(f.val, what+"."+f.name)
		if !good {
			ok = false
			continue
		}
		keys, vals, valNodes = append(keys, f.name), append(vals, s), append(valNodes, f.val)
	}
	return keys, vals, valNodes, ok
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// digits reports whether s is a non-empty run of ASCII digits.
func digits(s string) bool {
	for _, c := range []byte(s) {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}
