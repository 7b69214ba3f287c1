package workflows

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
)

// decodeAll decodes a workflow document into spec and returns every
// problem it met, not only the first: unknown fields are reported and
// dropped before decoding (so the rest still decodes), and each top-level
// field and each list item is decoded on its own, so that one bad rule or
// step does not hide the problems after it. read is false when the
// document could not be read at all, so compiling it would only add noise.
func decodeAll(file string, data []byte, spec *fileSpec) (errs Errors, read bool) {
	body, err := parseBody(data)
	if err != nil {
		return Errors{yamlErr(file, err)}, false
	}
	if body == nil {
		return nil, true // an empty file: the compiler says what is missing
	}
	pruneUnknown(file, body, reflect.TypeOf(spec).Elem(), &errs)
	if _, ok := mappingValues(body); !ok || hasAlias(body) {
		// Not a mapping (the decoder says so), or aliases, which resolve
		// only when the document is decoded as a whole.
		if err := decodeNode(body, spec); err != nil {
			return append(errs, yamlErr(file, err)), false
		}
		return errs, true
	}
	return append(errs, decodeInto(file, body, reflect.ValueOf(spec).Elem())...), true
}

// decodeInto decodes n into dst field by field and item by item, so that
// a value that does not decode is reported and the rest still is: a step
// with a bad budget is kept (with none), which spares the knock-on errors
// of a missing step; a list item of another type that does not decode
// (a rule with an unknown verdict) is left out.
func decodeInto(file string, n ast.Node, dst reflect.Value) Errors {
	n = unwrap(n)
	t := dst.Type()
	switch {
	case t.Kind() == reflect.Pointer:
		if _, null := n.(*ast.NullNode); null {
			return nil
		}
		// go-yaml leaves a **T nil; decode into a fresh *T instead.
		v := reflect.New(t.Elem())
		errs := decodeInto(file, n, v.Elem())
		dst.Set(v)
		return errs
	case ownStruct(t):
		vals, ok := mappingValues(n)
		if !ok {
			break // the decoder says what it got instead
		}
		if p, ok := dst.Addr().Interface().(interface{ setPos(pos) }); ok {
			p.setPos(nodePos(n))
		}
		fields := yamlFields(t)
		var errs Errors
		for _, kv := range vals {
			i, known := fields[keyName(kv)]
			if !known {
				continue
			}
			e := decodeInto(file, kv.Value, dst.Field(i))
			if scalarField(dst.Field(i).Type()) {
				for j := range e { // name the field whose value is wrong
					e[j].Msg = keyName(kv) + ": " + e[j].Msg
				}
			}
			errs = append(errs, e...)
		}
		return errs
	case t.Kind() == reflect.Slice:
		seq, ok := n.(*ast.SequenceNode)
		if !ok {
			break
		}
		var errs Errors
		out := reflect.MakeSlice(t, 0, len(seq.Values))
		for _, item := range seq.Values {
			elem := reflect.New(t.Elem()).Elem()
			e := decodeInto(file, item, elem)
			errs = append(errs, e...)
			if len(e) == 0 || ownStruct(t.Elem()) {
				out = reflect.Append(out, elem)
			}
		}
		dst.Set(out)
		return errs
	}
	if err := decodeNode(n, dst.Addr().Interface()); err != nil {
		e := yamlErr(file, err)
		if e.Line == 0 {
			// Our own unmarshalers' errors carry no token: "[l:c] msg".
			p := nodePos(n)
			e.Line, e.Col = p.Line, p.Col
			if _, msg, ok := strings.Cut(e.Msg, "] "); ok && strings.HasPrefix(e.Msg, "[") {
				e.Msg = msg
			}
		}
		return Errors{e}
	}
	return nil
}

// scalarField reports whether a value of type t is one scalar, whose error is
// best told with its field's name.
func scalarField(t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	return t.Kind() != reflect.Slice && t.Kind() != reflect.Map && !ownStruct(t)
}

// ownStruct reports whether t is one of this package's structs with
// fields (not a scalar like str), which decodeInto decodes field by field.
func ownStruct(t reflect.Type) bool {
	return t.Kind() == reflect.Struct && t.PkgPath() == reflect.TypeOf(str{}).PkgPath() && t != reflect.TypeOf(str{}) && t != reflect.TypeOf(pos{})
}

// decodeNode decodes strictly, turning a panic inside the YAML library
// (seen under fuzzing on malformed tags) into an error.
func decodeNode(n ast.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML could not be read: %v", r)
		}
	}()
	return yaml.NodeToValue(n, v, yaml.Strict())
}

// parseBody parses data as one YAML document and returns its body (nil
// for an empty document).
func parseBody(data []byte) (body ast.Node, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the YAML could not be read: %v", r)
		}
	}()
	f, err := parser.ParseBytes(data, 0)
	if err != nil {
		return nil, err
	}
	for _, doc := range f.Docs {
		if doc == nil || doc.Body == nil {
			continue
		}
		if body != nil {
			return nil, fmt.Errorf("a workflow is one YAML document; found another at line %d", nodePos(doc.Body).Line)
		}
		body = doc.Body
	}
	return body, nil
}

// pruneUnknown reports every mapping key under n that type t has no field
// for, and removes it, so that a strict decode of what remains reads the
// rest instead of stopping at the first unknown key.
func pruneUnknown(file string, n ast.Node, t reflect.Type, errs *Errors) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	n = unwrap(n)
	switch t.Kind() {
	case reflect.Struct:
		if t == reflect.TypeOf(str{}) {
			return
		}
		m, ok := n.(*ast.MappingNode)
		if !ok {
			if kv, single := n.(*ast.MappingValueNode); single {
				m = &ast.MappingNode{Values: []*ast.MappingValueNode{kv}}
			} else {
				return // the decoder reports the wrong kind of node
			}
		}
		fields := yamlFields(t)
		kept := m.Values[:0]
		for _, kv := range m.Values {
			i, known := fields[keyName(kv)]
			if !known {
				p := nodePos(kv.Key)
				*errs = append(*errs, Error{File: file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf("unknown field %q", keyName(kv))})
				continue
			}
			pruneUnknown(file, kv.Value, t.Field(i).Type, errs)
			kept = append(kept, kv)
		}
		if single, ok := n.(*ast.MappingNode); ok {
			single.Values = kept
		}
	case reflect.Slice:
		if seq, ok := n.(*ast.SequenceNode); ok {
			for _, v := range seq.Values {
				pruneUnknown(file, v, t.Elem(), errs)
			}
		}
	case reflect.Map:
		if vals, ok := mappingValues(n); ok {
			for _, kv := range vals {
				pruneUnknown(file, kv.Value, t.Elem(), errs)
			}
		}
	}
}

// unwrap strips anchors and tags down to the value node.
func unwrap(n ast.Node) ast.Node {
	for {
		switch v := n.(type) {
		case *ast.AnchorNode:
			n = v.Value
		case *ast.TagNode:
			n = v.Value
		default:
			return n
		}
	}
}

// mappingValues are a mapping's key/value pairs.
func mappingValues(n ast.Node) ([]*ast.MappingValueNode, bool) {
	switch v := unwrap(n).(type) {
	case *ast.MappingNode:
		return v.Values, true
	case *ast.MappingValueNode:
		return []*ast.MappingValueNode{v}, true
	}
	return nil, false
}

// keyName is a mapping key as written.
func keyName(kv *ast.MappingValueNode) string {
	if kv.Key == nil {
		return ""
	}
	if tk := kv.Key.GetToken(); tk != nil {
		return tk.Value
	}
	return kv.Key.String()
}

// yamlFields maps a struct's YAML keys to its field indexes.
func yamlFields(t reflect.Type) map[string]int {
	out := map[string]int{}
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if !f.IsExported() || name == "-" || name == "" {
			continue
		}
		out[name] = i
	}
	return out
}

// hasAlias reports whether n holds a YAML alias (*name).
func hasAlias(n ast.Node) bool {
	found := false
	ast.Walk(aliasFinder{&found}, n)
	return found
}

type aliasFinder struct{ found *bool }

func (a aliasFinder) Visit(n ast.Node) ast.Visitor {
	if _, ok := n.(*ast.AliasNode); ok {
		*a.found = true
		return nil
	}
	return a
}
