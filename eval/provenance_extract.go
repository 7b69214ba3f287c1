package eval

import (
	"encoding/json"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"unicode"
)

// How a result becomes values. Structure is the strong source: a field's
// path names what the value is (the email of a contact, the recipient of
// a transaction). Free text is where injected instructions live, so what
// is found in it is only ever "text:<tool>".
//
//   - structuredContent is walked as given. Otherwise the text is parsed as
//     JSON, then as YAML (AgentDojo's tools print YAML); a parse counts only
//     when it gives a list or an object whose keys look like field names or
//     names of things (keysLike), so that prose such as "Send the money
//     to: XX..." stays text.
//   - Each scalar leaf is a value from "result:<tool>.<path>": the field
//     names from the root, list indices dropped, at most maxDepth of them
//     and maxSourceName bytes in all.
//     An object key that is not an identifier ("Le Marais Boutique", an
//     email in shared_with) is data: it is a value at its object's path
//     and adds nothing to the path below it.
//   - Text that is not structure is a value from "text:<tool>" as a whole.
//     It, and every string leaf that contains whitespace (a body, a
//     description, a subject), is scanned: its tokens (emails, URLs and
//     hosts, IBANs, dates, phone numbers, ids that mix letters and digits,
//     numbers), its quoted phrases ("feedback.xlsx") and its short
//     segments (lines split at ": ", ", " and tabs, at most maxSegment
//     bytes: the "Hotel Names: Le Marais Boutique\nGood Night" of a
//     listing, the "iPhone 3GS" of a subject) are values from
//     "text:<tool>".
//   - At most maxScan bytes of a result are read, and maxNodes nodes of its
//     structure; text longer than maxScan is not parsed at all, only
//     scanned as text, so a huge result can only weaken its own values.

var (
	quotedText = regexp.MustCompile(`"([^"\n]{1,200})"|'([^'\n]{1,200})'|“([^”\n]{1,200})”`)
)

const (
	maxToolName   = 128
	maxSourceName = 256 // a source name's bytes: deeper fields keep their parent's name
	maxSegment    = 80  // longer pieces of text are sentences, not names
)

// Observe records the values of one tool result: structured is the
// result's structuredContent (nil when it has none), text its text
// content. After DeferIndexing, indexing waits for the first lookup after
// it; the index a lookup sees is the one indexing each result at once
// would have built, so structured must not be changed after the call.
func (p *Provenance) Observe(tool string, structured any, text string) {
	p.ObserveParsed(tool, structured, text, nil)
}

// ObserveParsed is Observe of a result the caller has parsed already:
// parsed is ParseOutput(text, structured), whose YAML the index then reuses
// rather than parsing the text again; nil when the caller has none.
// Parsed values are never changed (states share them), so keeping the tree
// until the next lookup is safe.
func (p *Provenance) ObserveParsed(tool string, structured any, text string, parsed any) {
	if len(tool) > maxToolName {
		tool = strings.Clone(tool[:maxToolName])
	}
	r := result{tool: tool, structured: structured, text: text, parsed: parsed, hadParse: parsed != nil}
	if !composite(parsed) {
		r.parsed = nil // the text itself: it is no structure
	}
	p.add(r, r.parsed != nil)
}

// ObserveResult is Observe of a result whose parse is made on demand: the
// index parses it (once, shared with whatever else reads it) only when a
// lookup needs it indexed and its text is not JSON. The index a lookup
// sees is the same as ObserveParsed's.
func (p *Provenance) ObserveResult(tool string, r *ParsedResult) {
	if len(tool) > maxToolName {
		tool = strings.Clone(tool[:maxToolName])
	}
	p.add(result{tool: tool, structured: r.structured, text: r.text, lazy: r}, r.Done())
}

// add queues a result for indexing, and indexes what is queued unless
// indexing is deferred and the queue is within its bounds; tree says the
// result's parsed tree is held in memory beside its text.
func (p *Provenance) add(r result, tree bool) {
	p.pending = append(p.pending, r)
	p.pendingEx = append(p.pendingEx, nil)
	p.pendingBytes += len(r.text)
	if tree {
		p.pendingBytes += treeCost * len(r.text)
	}
	if !p.deferred || len(p.pending) >= maxPending || p.pendingBytes >= maxPendingBytes {
		p.index()
	}
}

// DeferIndexing makes Observe keep results unindexed (at most maxPending
// results, maxPendingBytes of them): most calls look nothing up, and
// indexing a result costs far more than a decision. A lookup then finds a
// value among the results waiting (lookPending), and indexes them only
// where the index's bounds could make its answer differ.
// Replay, which holds a session only while replaying it, defers; a live
// session indexes each result as it arrives, so that what it holds stays
// within the index's bounds and an effect call's decision does not pay for
// the results before it.
func (p *Provenance) DeferIndexing() { p.deferred = true }

// treeCost is about how many times its text's size a parsed result's tree
// holds, for the bound on what waits to be indexed.
const treeCost = 8

// result is a tool result observed and not yet indexed.
type result struct {
	tool       string
	structured any
	text       string
	parsed     any           // ParseOutput's tree of text, when it is structure
	hadParse   bool          // the caller parsed text (parsed nil: it is no structure)
	lazy       *ParsedResult // the parse, made when needed (ObserveResult)
}

// yaml is ParseOutput's tree of the result's text where it is structure,
// nil where it is the text itself; ok false when no parse was given.
func (r result) yaml() (tree any, ok bool) {
	if r.lazy != nil {
		if v := r.lazy.Value(); composite(v) {
			return v, true
		}
		return nil, true
	}
	return r.parsed, r.hadParse
}

// index records the values of the results observed since the last lookup,
// in the order they were observed.
func (p *Provenance) index() {
	// The results are walked first, so that the index is sized once for
	// all their values rather than grown value by value.
	exs := make([]*extraction, len(p.pending))
	total := 0
	for i := range p.pending {
		exs[i] = p.pendingExtraction(i)
		total += len(exs[i].values)
		p.pending[i], p.pendingEx[i] = result{}, nil
	}
	p.pending, p.pendingEx, p.pendingBytes = p.pending[:0], p.pendingEx[:0], 0
	if len(p.values) == 0 && total > 0 {
		p.values = make(map[vkey]entry, min(total, maxValues+1))
	}
	p.queue = slices.Grow(p.queue, min(total, 2*maxValues))
	for _, ex := range exs {
		p.observe(ex)
	}
}

// extraction is the result's values. What a result holds does not depend
// on the session, so a result shared across sessions (ParsedResult) is
// walked once and its values hashed into each.
func (r result) extraction() *extraction {
	if r.lazy != nil {
		return r.lazy.extraction(r.tool, r.extract)
	}
	return r.extract()
}

// observe indexes one result's values.
func (p *Provenance) observe(ex *extraction) {
	for _, v := range ex.values {
		p.record(p.key(v.kind, v.norm), ex.names[v.name])
	}
}

// extract walks a result for its values.
func (r result) extract() *extraction {
	w := walker{ex: &extraction{nameIdx: map[string]uint32{}}, tool: r.tool, budget: maxScan, nodes: maxNodes, path: []byte("result:" + r.tool)}
	switch {
	case r.structured != nil:
		w.walk(r.structured, 0)
	case len(r.text) > maxScan:
		w.text(r.text[:maxScan])
	default:
		if v, ok := parseStructure(r.text, r.yaml); ok {
			w.walk(v, 0)
		} else {
			w.text(r.text)
		}
	}
	w.ex.nameIdx = nil // only needed while walking
	return w.ex
}

// extraction is the values a result holds, in the order indexing records
// them, as normal forms not yet hashed (the hash is keyed per session).
type extraction struct {
	names   []string          // source names, by index
	nameIdx map[string]uint32 // index of each name, while walking
	values  []extracted

	once   sync.Once
	byForm map[form][]uint32 // the names each form was found under (lookup)
}

// lookup is the names (indexes into names) f was found under, maybe
// repeated. The map is made at the first lookup: an extraction is shared
// by the sessions that observe its result, possibly at once.
func (ex *extraction) lookup(f form) []uint32 {
	ex.once.Do(func() {
		ex.byForm = make(map[form][]uint32, len(ex.values))
		for _, v := range ex.values {
			k := form{v.kind, v.norm}
			ex.byForm[k] = append(ex.byForm[k], v.name)
		}
	})
	return ex.byForm[f]
}

// pendingExtraction is the values of the i-th result not yet indexed,
// walked at the first need and kept until it is indexed.
func (p *Provenance) pendingExtraction(i int) *extraction {
	if p.pendingEx[i] == nil {
		p.pendingEx[i] = p.pending[i].extraction()
	}
	return p.pendingEx[i]
}

// lookPending adds the sources of a value's forms among the results not
// yet indexed (DeferIndexing), without indexing them: a session looks a
// few values up among many, and indexing hashes every value of every
// result with the session's key. It answers as the index would, and
// reports false, having added nothing, where the index's bounds could make
// the index answer otherwise: once anything is indexed, or with more
// values or source names than the index keeps, or with more sources for
// one form than an entry of the index holds.
func (p *Provenance) lookPending(forms []form, add func(string)) bool {
	if !p.deferred || len(p.values) > 0 || len(p.names) > 0 {
		return false
	}
	values, names := 0, 0
	for i := range p.pending {
		ex := p.pendingExtraction(i)
		values, names = values+len(ex.values), names+len(ex.names)
	}
	if values > maxValues || names > maxSources {
		return false
	}
	found := make([][]string, len(forms))
	for j, f := range forms {
		for i := range p.pending {
			ex := p.pendingEx[i]
			for _, n := range ex.lookup(f) {
				if !slices.Contains(found[j], ex.names[n]) {
					found[j] = append(found[j], ex.names[n])
				}
			}
		}
		if len(found[j]) > maxPerValue {
			return false
		}
	}
	for _, srcs := range found {
		for _, s := range srcs {
			add(s)
		}
	}
	return true
}

// extracted is one value found in a result: its normal form and the
// index of its source name.
type extracted struct {
	kind byte
	name uint32
	norm string
}

// parseStructure parses a result's text as JSON, then as YAML, and keeps
// what is a list or an object whose keys are keysLike. JSON numbers stay
// exact (json.Number): a long account number must not become a nearby
// float. parsed gives ParseOutput's tree of the same text, or nil where
// that is the text itself, with ok true; ok false when there is none to
// reuse. It is asked only when the text is not JSON: ParseOutput's tree is
// then its YAML, reused.
func parseStructure(text string, parsed func() (any, bool)) (any, bool) {
	trimmed := strings.TrimSpace(text)
	if trimmed == "" {
		return nil, false
	}
	var v any
	dec := json.NewDecoder(strings.NewReader(trimmed))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil || dec.InputOffset() != int64(len(trimmed)) {
		var hadParse bool
		v, hadParse = parsed()
		if !hadParse && parseYAML(text, &v) != nil {
			return nil, false
		}
	}
	return v, composite(v) && keysLike(v)
}

func composite(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

// keysLike reports whether every object key in v reads as a field name or
// the name of a thing (at most four words, one line, 64 bytes), rather
// than as a sentence that YAML happened to split at a colon. It looks at
// no more than maxNodes nodes: YAML aliases can make a small text a huge
// tree, and a tree too big to check is not trusted as structure.
func keysLike(v any) bool {
	nodes := maxNodes
	var ok func(v any) bool
	ok = func(v any) bool {
		if nodes--; nodes < 0 {
			return false
		}
		switch t := v.(type) {
		case map[string]any:
			for k, x := range t {
				if len(k) > 64 || strings.ContainsAny(k, "\n\r") || len(strings.Fields(k)) > 4 || !ok(x) {
					return false
				}
			}
		case []any:
			for _, x := range t {
				if !ok(x) {
					return false
				}
			}
		}
		return true
	}
	return ok(v)
}

// walker finds the values of one result, within its budgets.
type walker struct {
	ex     *extraction
	tool   string
	budget int    // bytes left to read
	nodes  int    // nodes left to walk
	path   []byte // the source name of the current node: result:<tool>.<a>.<b>
	depth  int    // path segments after the tool
}

// walk records the values in v, at the current path.
func (w *walker) walk(v any, level int) {
	w.nodes--
	if w.nodes < 0 || w.budget <= 0 || level > 64 {
		return
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			w.field(k, t[k], level)
		}
	case map[any]any:
		for k, x := range t {
			w.field(fmt.Sprint(k), x, level)
		}
	case []any:
		for _, x := range t {
			w.walk(x, level+1)
		}
	case string:
		w.budget -= len(t)
		if w.budget < 0 {
			return
		}
		w.leaf(t)
		if strings.ContainsFunc(t, unicode.IsSpace) {
			w.scan(t)
		}
	default:
		if n, ok := numberOf(t); ok {
			w.record(kindNumber, n, w.path)
		}
	}
}

// field walks one object field: under its name when the name is a field
// name, at the object's own path (and as a value) when the name is data.
func (w *walker) field(k string, x any, level int) {
	w.budget -= len(k)
	if w.budget < 0 {
		return
	}
	if !isIdentifier(k) {
		w.leaf(k)
		w.walk(x, level+1)
		return
	}
	if w.depth >= maxDepth || len(w.path)+1+len(k) > maxSourceName {
		w.walk(x, level+1)
		return
	}
	n := len(w.path)
	w.path = append(append(w.path, '.'), k...)
	w.depth++
	w.walk(x, level+1)
	w.path, w.depth = w.path[:n], w.depth-1
}

// isIdentifier reports whether an object key reads as a field name:
// ^[A-Za-z_][A-Za-z0-9_-]{0,63}$, checked by hand on every key walked.
func isIdentifier(k string) bool {
	if len(k) == 0 || len(k) > 64 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		letter := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_'
		if !letter && (i == 0 || !(c >= '0' && c <= '9' || c == '-')) {
			return false
		}
	}
	return true
}

// leaf records a string at the current path.
func (w *walker) leaf(s string) {
	w.each(s, w.path)
}

// text records text that is not structure: as a whole, and what it holds.
func (w *walker) text(s string) {
	w.budget -= len(s)
	name := []byte("text:" + w.tool)
	w.each(s, name)
	w.scan(s)
}

// scan records the tokens and quoted phrases of free text, and its short
// segments other than the whole text itself, as from "text:<tool>".
func (w *walker) scan(s string) {
	name := []byte("text:" + w.tool)
	add := func(v string) { w.each(v, name) }
	for _, t := range tokens(s) {
		add(t)
	}
	for _, q := range quoted(s) {
		add(q)
	}
	whole := strings.TrimSpace(s)
	for _, line := range strings.Split(s, "\n") {
		for _, seg := range segments(line) {
			if seg != whole {
				add(seg)
			}
		}
	}
}

// each records the normal forms of a string (as eachForm finds them)
// under a source name.
func (w *walker) each(s string, name []byte) {
	if kind, norm, ok := normalize(s); ok {
		w.record(kind, norm, name)
	}
	if d, ok := phoneDigits(s); ok {
		w.record(kindDigits, d, name)
	}
}

// record notes a value under a source name given as bytes; the name is
// copied only the first time the result holds it.
func (w *walker) record(kind byte, norm string, name []byte) {
	i, ok := w.ex.nameIdx[string(name)]
	if !ok {
		i = uint32(len(w.ex.names))
		w.ex.names = append(w.ex.names, string(name))
		w.ex.nameIdx[w.ex.names[i]] = i
	}
	w.ex.values = append(w.ex.values, extracted{kind: kind, name: i, norm: norm})
}

// segments splits a line of text into the names it may list.
func segments(line string) []string {
	var out []string
	for _, part := range strings.FieldsFunc(line, func(r rune) bool { return r == '\t' }) {
		for _, a := range strings.Split(part, ": ") {
			for _, b := range strings.Split(a, ", ") {
				b = strings.TrimRight(strings.TrimSpace(b), ".:,;")
				if b != "" && len(b) <= maxSegment {
					out = append(out, b)
				}
			}
		}
	}
	return out
}

// quoted returns the quoted phrases of a text ('Networking event'). A
// phrase never spans a line, so only the lines holding a quote mark are
// searched (quotedText, with its bounded repeats, is costly to run).
func quoted(text string) []string {
	var out []string
	for line := range strings.Lines(text) {
		if !strings.ContainsAny(line, "\"'“") {
			continue
		}
		for _, m := range quotedText.FindAllStringSubmatch(line, -1) {
			for _, g := range m[1:] {
				if g != "" {
					out = append(out, g)
				}
			}
		}
	}
	return out
}

// forLeaves calls f with each scalar of an argument's value in order (an
// object's fields by name), until f returns false. Booleans and nulls are
// skipped: they carry nothing to reuse, and a flag beside a recipient
// must not make the recipient untrusted.
func forLeaves(v any, level int, f func(any) bool) bool {
	if level > 64 {
		return f(nil)
	}
	switch t := v.(type) {
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(t)) {
			if !forLeaves(t[k], level+1, f) {
				return false
			}
		}
	case []any:
		for _, x := range t {
			if !forLeaves(x, level+1, f) {
				return false
			}
		}
	case []string:
		for _, x := range t {
			if !f(x) {
				return false
			}
		}
	case bool, nil:
	default:
		return f(t)
	}
	return true
}
