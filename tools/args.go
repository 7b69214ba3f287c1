package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"unicode"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Arguments must mean the same thing to the policy and to the upstream.
// Go upstreams that bind arguments to structs (mcp-go's typed handlers,
// encoding/json) match object keys case-insensitively, with Unicode
// simple folding ("ſ" is "s", the Kelvin sign is "k"), and take the last
// of duplicate keys; other parsers take the first. So an argument object
// whose keys collide under folding, at any depth, could be read one way
// by a guard and another by the tool, and is refused. Where the tool
// declares an input schema, the arguments must validate against it, and a
// key that is not a declared property but folds to one is refused even
// where the schema allows other properties: a struct-binding upstream
// would read it as the declared one, unguarded.

// ErrArgs is wrapped by every refusal of ArgChecker.Check.
var ErrArgs = errors.New("arguments refused")

// maxSchemas bounds the compiled schemas an ArgChecker keeps.
const maxSchemas = 4096

// ArgChecker checks calls' arguments against their tools' input schemas.
// It caches compiled schemas by content; the zero value is ready to use
// and it is safe for concurrent use.
type ArgChecker struct {
	mu sync.Mutex
	// schemas is keyed by the schema's bytes: looking a []byte up in a
	// map[string] neither copies nor hashes it beyond the map's own hash.
	schemas  map[string]compiled
	compiles atomic.Int64 // schemas compiled so far, for tests of the cache
}

// compiled is a schema decoded (doc, for the key checks) and compiled
// (schema, for validation), with what it declares at the top (top), which
// every call's arguments are checked against.
type compiled struct {
	doc    any
	docErr error
	top    *shape
	schema *jsonschema.Schema
	err    error
}

// Check refuses args (a JSON object; empty or null mean {}) whose keys
// collide under case folding or repeat, that do not validate against
// schema (the tool's inputSchema; none when empty), or that hold a key
// folding to a declared property without being it. The error wraps ErrArgs and names the path.
func (c *ArgChecker) Check(schema, args json.RawMessage) error {
	return c.check(schema, args, true)
}

// CheckKeys is Check without validation against the schema: keys that
// repeat, collide under folding, or fold to a declared property without
// being it are still refused, since they are read two ways whatever the
// schema says.
func (c *ArgChecker) CheckKeys(schema, args json.RawMessage) error {
	return c.check(schema, args, false)
}

func (c *ArgChecker) check(schema, args json.RawMessage, validate bool) error {
	// No arguments, or null, reach the upstream as none: an empty object.
	// That is common enough (a tool without parameters) to skip the
	// decoder, whose buffers cost more than the check that follows.
	var decoded any = map[string]any{}
	if a := bytes.TrimSpace(args); len(a) != 0 && string(a) != "null" && string(a) != "{}" {
		// One pass both refuses colliding keys and decodes the value the
		// schema checks below read.
		var err error
		if decoded, err = decodeArgs(args); err != nil {
			return fmt.Errorf("%w: %w", ErrArgs, err)
		}
	}
	if len(bytes.TrimSpace(schema)) == 0 {
		return nil
	}
	sch := c.compile(schema)
	if sch.docErr != nil {
		return fmt.Errorf("%w: the tool's input schema is not JSON: %w", ErrArgs, sch.docErr)
	}
	// An empty object has no key to fold onto a declared one.
	if m, ok := decoded.(map[string]any); !ok || len(m) > 0 {
		if err := sch.top.undeclared(sch.doc, decoded, &argPath{"arguments"}); err != nil {
			return fmt.Errorf("%w: %w", ErrArgs, err)
		}
	}
	if !validate {
		return nil
	}
	if sch.err != nil {
		return fmt.Errorf("%w: the tool's input schema does not compile: %w", ErrArgs, sch.err)
	}
	if err := sch.schema.Validate(decoded); err != nil {
		return fmt.Errorf("%w: they do not match the tool's input schema: %w", ErrArgs, err)
	}
	return nil
}

// compile decodes and compiles schema once per content (a call is checked
// on every call of its tool). It loads nothing: a $ref to a file or a URL
// fails rather than reach outside.
func (c *ArgChecker) compile(schema json.RawMessage) compiled {
	c.mu.Lock()
	if got, ok := c.schemas[string(schema)]; ok {
		c.mu.Unlock()
		return got
	}
	c.mu.Unlock()
	c.compiles.Add(1)
	var got compiled
	got.doc, got.docErr = jsonschema.UnmarshalJSON(bytes.NewReader(schema))
	if got.docErr == nil {
		got.top = shapeOf(got.doc, []any{got.doc})
		comp := jsonschema.NewCompiler()
		comp.UseLoader(jsonschema.SchemeURLLoader{})
		comp.DefaultDraft(jsonschema.Draft2020)
		const loc = "warden:///input-schema.json"
		if got.err = comp.AddResource(loc, got.doc); got.err == nil {
			got.schema, got.err = comp.Compile(loc)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.schemas == nil || len(c.schemas) >= maxSchemas {
		c.schemas = map[string]compiled{}
	}
	c.schemas[string(schema)] = got
	return got
}

// decodeArgs decodes one JSON value as jsonschema.UnmarshalJSON does
// (numbers as json.Number), refusing an object with a key that repeats or
// that folds to another of its keys.
func decodeArgs(raw json.RawMessage) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	v, err := decodeValue(dec, &argPath{"arguments"})
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("arguments: more than one JSON value")
	}
	return v, nil
}

// decodeValue reads one value from dec; p is where it is, for errors.
func decodeValue(dec *json.Decoder, p *argPath) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	switch tok {
	case json.Delim('{'):
		obj := map[string]any{}
		seen := map[string]string{} // folded -> as written
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", p, err)
			}
			k := kt.(string)
			f := foldKey(k)
			if prev, ok := seen[f]; ok {
				if prev == k {
					return nil, fmt.Errorf("%s: key %q appears twice; parsers differ on which one counts", p, k)
				}
				return nil, fmt.Errorf("%s: keys %q and %q are one key to a case-insensitive reader (a Go upstream binds either)", p, prev, k)
			}
			seen[f] = k
			p.push("." + k)
			obj[k], err = decodeValue(dec, p)
			p.pop()
			if err != nil {
				return nil, err
			}
		}
		_, err := dec.Token() // }
		return obj, err
	case json.Delim('['):
		arr := []any{}
		for i := 0; dec.More(); i++ {
			p.pushIndex(i)
			v, err := decodeValue(dec, p)
			p.pop()
			if err != nil {
				return nil, err
			}
			arr = append(arr, v)
		}
		_, err := dec.Token() // ]
		return arr, err
	}
	return tok, nil
}

// argPath is where in the arguments a check is, kept as parts and joined
// only for an error: most calls pass and never need it as a string.
type argPath []string

func (p *argPath) push(part string) { *p = append(*p, part) }

func (p *argPath) pushIndex(i int) { p.push("[" + strconv.Itoa(i) + "]") }

func (p *argPath) pop() { *p = (*p)[:len(*p)-1] }

func (p *argPath) String() string { return strings.Join(*p, "") }

// foldKey maps s to one representative of its case-folding class: each
// rune becomes the smallest rune of its Unicode simple-folding orbit, so
// "S", "s" and "ſ" agree, and so do "K", "k" and the Kelvin sign.
func foldKey(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	for _, r := range s {
		m := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			m = min(m, f)
		}
		b.WriteRune(m)
	}
	return b.String()
}

// shapeOf is what schemas, the schemas that apply at one place of the
// arguments, declare there. root is the whole schema, for its local $refs.
func shapeOf(root any, schemas []any) *shape {
	sh := &shape{props: map[string][]any{}, seen: map[string]bool{}}
	for _, s := range schemas {
		sh.add(root, s)
	}
	sh.folded = make(map[string]string, len(sh.props))
	for name := range sh.props {
		sh.folded[foldKey(name)] = name
	}
	return sh
}

// undeclared refuses, wherever the schemas that apply at a place of args
// declare properties, a key that is not declared but folds to one that
// is. sh is what applies at args; p is where args is.
func (sh *shape) undeclared(root, args any, p *argPath) error {
	switch v := args.(type) {
	case map[string]any:
		for k, val := range v {
			subs, declared := sh.props[k]
			if !declared {
				if name, ok := sh.folded[foldKey(k)]; ok {
					return fmt.Errorf("%s: key %q is not declared, but a Go upstream would read it as the declared %q", p, k, name)
				}
				subs = sh.extra
			}
			if !holdsObjects(val) {
				continue // nothing below it has keys to check
			}
			p.push("." + k)
			err := shapeOf(root, subs).undeclared(root, val, p)
			p.pop()
			if err != nil {
				return err
			}
		}
	case []any:
		var items *shape
		for i, item := range v {
			if !holdsObjects(item) {
				continue
			}
			if items == nil {
				items = shapeOf(root, sh.items)
			}
			p.pushIndex(i)
			err := items.undeclared(root, item, p)
			p.pop()
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// holdsObjects reports whether v is an object or an array, the only
// values with keys at or below them.
func holdsObjects(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// shape is what the schemas that apply at one place declare there: the
// properties (each with the subschemas that apply to its value), the
// schemas of other properties, and of items. It takes in whatever a
// validator could apply (local $refs, allOf, anyOf, oneOf, if, then,
// else), so a key folding to a property declared in any of them is
// refused.
type shape struct {
	props  map[string][]any
	folded map[string]string // each property's foldKey -> the property
	extra  []any
	items  []any
	seen   map[string]bool // $refs followed, so that a cycle ends
}

func (sh *shape) add(root, schema any) {
	sch, ok := schema.(map[string]any)
	if !ok {
		return
	}
	if ref, ok := sch["$ref"].(string); ok && !sh.seen[ref] {
		sh.seen[ref] = true
		sh.add(root, localRef(root, ref))
	}
	props, _ := sch["properties"].(map[string]any)
	for name, sub := range props {
		sh.props[name] = append(sh.props[name], sub)
	}
	if ap, ok := sch["additionalProperties"].(map[string]any); ok {
		sh.extra = append(sh.extra, ap)
	}
	switch it := sch["items"].(type) {
	case map[string]any:
		sh.items = append(sh.items, it)
	case []any: // a tuple, before draft 2020-12
		sh.items = append(sh.items, it...)
	}
	if pi, ok := sch["prefixItems"].([]any); ok {
		sh.items = append(sh.items, pi...)
	}
	for _, k := range []string{"allOf", "anyOf", "oneOf"} {
		subs, _ := sch[k].([]any)
		for _, sub := range subs {
			sh.add(root, sub)
		}
	}
	for _, k := range []string{"if", "then", "else"} {
		sh.add(root, sch[k])
	}
}

// localRef resolves a $ref to a place in root ("#/$defs/x"); anything
// else is nil (a schema that loads nothing does not compile with it).
func localRef(root any, ref string) any {
	if ref == "#" {
		return root
	}
	rest, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil
	}
	cur := root
	for _, tok := range strings.Split(rest, "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch c := cur.(type) {
		case map[string]any:
			cur = c[tok]
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil
			}
			cur = c[i]
		default:
			return nil
		}
	}
	return cur
}
