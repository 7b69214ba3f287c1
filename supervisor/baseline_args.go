package supervisor

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"unicode/utf8"
)

// Argument signals: a known tool called with arguments unlike the
// agent's own.
const (
	SignalNewArgumentShape = "new_argument_shape" // argument names or types never seen for the tool
	SignalManyRecipients   = "many_recipients"    // a list argument longer than ever, with headroom
	SignalLargeAmount      = "large_amount"       // a number argument larger than ever, with headroom
)

const (
	maxShapesPerTool  = 32 // shapes beyond these are not learned (they keep raising new_argument_shape)
	maxArgNames       = 64 // per tool, list and number arguments each
	maxShapeLen       = 512
	volumeFactor      = 2  // many_recipients, large_amount: above the most seen times this
	manyRecipientsMin = 10 // ...and above this many elements, whatever the baseline
	largeAmountMin    = 1000
	noArguments       = "(none)"
)

// ToolArgs is what a tool's arguments looked like in the calls learned
// from. Only top-level arguments are looked at.
type ToolArgs struct {
	// Shapes counts calls by shape: the argument names, sorted, each with
	// its JSON type ("amount:number,to:string").
	Shapes map[string]int `json:"shapes"`
	// MaxLen is, by argument name, the most elements of a list value.
	MaxLen map[string]int `json:"max_list_len,omitempty"`
	// MaxNumber is, by argument name, the largest absolute number value.
	MaxNumber map[string]float64 `json:"max_number,omitempty"`
}

// argsOf reads a call's arguments as a ToolArgs of one call; ok is false
// when they are not a JSON object (or null, for none). It runs on every
// call: MaxLen and MaxNumber are made only for a list or a number (a nil
// map reads as an empty one), and null is not decoded.
func argsOf(raw json.RawMessage) (a *ToolArgs, ok bool) {
	if string(raw) == "null" {
		return &ToolArgs{Shapes: map[string]int{"": 1}}, true
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	b := argsReading{parts: make([]string, 0, len(m))}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v := bytes.TrimSpace(m[k])
		switch t := jsonType(v); t {
		case "array":
			var l []json.RawMessage
			b.add(k, t, json.Unmarshal(v, &l) == nil, len(l), 0)
		case "number":
			var f float64
			b.add(k, t, json.Unmarshal(v, &f) == nil, 0, f)
		default:
			b.add(k, t, false, 0, 0)
		}
	}
	return b.done(), true
}

// argsOfValue is argsOf(json.Marshal(v)) for arguments as mcp-go decoded
// them (an object of JSON values), read without encoding and decoding
// them again. done is false for a value it leaves to argsOf: not an
// object, a key that is not valid UTF-8 (encoding changes it), a value of
// another type than decoding gives.
func argsOfValue(v any) (a *ToolArgs, done bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return nil, false
	}
	names := make([]string, 0, len(m))
	for k := range m {
		if !utf8.ValidString(k) {
			return nil, false
		}
		names = append(names, k)
	}
	slices.Sort(names)
	b := argsReading{parts: make([]string, 0, len(names))}
	for _, k := range names {
		switch x := m[k].(type) {
		case nil:
			b.add(k, "null", false, 0, 0)
		case string:
			b.add(k, "string", false, 0, 0)
		case bool:
			b.add(k, "boolean", false, 0, 0)
		case float64:
			b.add(k, "number", true, 0, x)
		case []any:
			b.add(k, "array", true, len(x), 0)
		case map[string]any:
			b.add(k, "object", false, 0, 0)
		default:
			return nil, false
		}
	}
	return b.done(), true
}

// argsReading builds the ToolArgs of one call from its arguments in the
// order of their names.
type argsReading struct {
	a     ToolArgs
	parts []string
}

// add reads argument k of JSON type t; measured says its length n (a
// list) or value f (a number) was read.
func (b *argsReading) add(k, t string, measured bool, n int, f float64) {
	b.parts = append(b.parts, k+":"+t)
	switch {
	case !measured:
	case t == "array":
		if b.a.MaxLen == nil {
			b.a.MaxLen = map[string]int{}
		}
		b.a.MaxLen[k] = n
	case t == "number":
		if b.a.MaxNumber == nil {
			b.a.MaxNumber = map[string]float64{}
		}
		b.a.MaxNumber[k] = math.Abs(f)
	}
}

// done is the call's ToolArgs, its shape the names and types read (cut
// to maxShapeLen).
func (b *argsReading) done() *ToolArgs {
	shape := strings.Join(b.parts, ",")
	if len(shape) > maxShapeLen {
		shape = shape[:maxShapeLen]
	}
	a := b.a
	a.Shapes = map[string]int{shape: 1}
	return &a
}

// jsonType names the JSON type of a value by its first byte.
func jsonType(v []byte) string {
	if len(v) == 0 {
		return "null"
	}
	switch v[0] {
	case '"':
		return "string"
	case '{':
		return "object"
	case '[':
		return "array"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// learnArgs adds one tool's arguments to args, a tool's at most
// maxBaselineTools.
func learnArgs(args map[string]*ToolArgs, tool string, from *ToolArgs) {
	a := args[tool]
	if a == nil {
		if len(args) >= maxBaselineTools {
			return
		}
		a = &ToolArgs{Shapes: map[string]int{}, MaxLen: map[string]int{}, MaxNumber: map[string]float64{}}
		args[tool] = a
	}
	addCounts(a.Shapes, from.Shapes, maxShapesPerTool)
	keepMax(a.MaxLen, from.MaxLen)
	keepMax(a.MaxNumber, from.MaxNumber)
}

// keepMax keeps, by name, the larger of into's and from's, for at most
// maxArgNames names.
func keepMax[V int | float64](into, from map[string]V) {
	for k, v := range from {
		if old, ok := into[k]; ok || len(into) < maxArgNames {
			into[k] = max(old, v)
		}
	}
}

// checkArgs is what calling tool with arguments call (argsOf's reading;
// nil when they were not an object) tells against b. A tool whose
// arguments b never learned (a new tool, or a baseline saved before
// arguments were learned) gives nothing.
func (b *Baseline) checkArgs(tool string, call *ToolArgs) []finding {
	known := b.Args[tool]
	if b.ArgsSessions == 0 || known == nil || call == nil {
		return nil
	}
	var out []finding
	of := fmt.Sprintf("in %d sessions", b.ArgsSessions)
	for shape := range call.Shapes {
		if known.Shapes[shape] == 0 {
			out = append(out, finding{SignalNewArgumentShape, tool, fmt.Sprintf("agent %s called %s with arguments {%s}, never seen %s; shapes seen: %s",
				b.Agent, tool, shapeName(shape), of, listed(shapeNames(known.Shapes)))})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(call.MaxLen)) {
		if base, ok := known.MaxLen[k]; ok {
			if n, limit := call.MaxLen[k], max(base*volumeFactor, manyRecipientsMin); n > limit {
				out = append(out, finding{SignalManyRecipients, tool + "." + k, fmt.Sprintf("agent %s called %s with %d elements in %s; the most seen %s was %d (limit %d)",
					b.Agent, tool, n, k, of, base, limit)})
			}
		}
	}
	for _, k := range slices.Sorted(maps.Keys(call.MaxNumber)) {
		if base, ok := known.MaxNumber[k]; ok {
			if v, limit := call.MaxNumber[k], max(base*volumeFactor, largeAmountMin); v > limit {
				out = append(out, finding{SignalLargeAmount, tool + "." + k, fmt.Sprintf("agent %s called %s with %s %g; the largest seen %s was %g (limit %g)",
					b.Agent, tool, k, v, of, base, limit)})
			}
		}
	}
	return out
}

func shapeName(shape string) string {
	if shape == "" {
		return noArguments
	}
	return shape
}

func shapeNames(shapes map[string]int) []string {
	out := make([]string, 0, len(shapes))
	for _, s := range slices.Sorted(maps.Keys(shapes)) {
		out = append(out, "{"+shapeName(s)+"}")
	}
	return out
}
