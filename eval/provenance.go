package eval

import (
	"hash/maphash"
	"path"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Provenance answers, for a value in a call's arguments, where the agent
// could have got it: the user's declared intent ("intent"), the agent's
// configuration ("config"), a structured field of an earlier result
// ("result:<tool>.<path>"), or free text of a result ("text:<tool>", where
// injected instructions live, so the weakest source). It is per session and
// not safe for concurrent use: the supervisor decides a session's calls one
// at a time.
//
// Memory is bounded: at most maxValues normalised values (the least
// recently observed are evicted first; intent and configuration never
// are), at most maxScan bytes read from each result, and at most
// maxSources distinct source names. Values are kept as 64-bit keyed
// hashes of their normal forms, not as text; the key is random per
// session, so a result cannot be shaped to collide with another value.
type Provenance struct {
	seed    maphash.Seed
	values  map[vkey]entry
	queue   []queued // observation order, for eviction; may hold stale items
	head    int
	seq     uint64
	names   []string          // source names by index
	nameIdx map[string]uint16 // index of each source name

	intent     string // lower-cased, for verbatim matching of words and phrases
	intentKeys map[vkey]struct{}
	configKeys map[vkey]struct{}

	deferred     bool          // DeferIndexing: index when a lookup needs it
	pending      []result      // observed, not yet indexed
	pendingEx    []*extraction // their values, once walked (pendingExtraction)
	pendingBytes int
}

// Bounds of one session's provenance. A cap is hit only by a session far
// beyond a real task (the largest AgentDojo task observes 742 values, the
// results of all 97 tasks together 1,434 from 201 sources);
// past it, old values are forgotten and new sources dropped, which can
// only take trust away, never add it.
const (
	maxValues   = 4096      // distinct normalised values kept from results
	maxScan     = 256 << 10 // bytes of one result parsed and scanned
	maxNodes    = 1 << 16   // nodes of one result's structure walked
	maxSources  = 1024      // distinct source names per session
	maxPerValue = 8         // sources kept per value
	maxDepth    = 8         // path segments kept in a source name
	maxIntent   = 16 << 10  // bytes of intent and of each config value read

	// Results kept unindexed until a lookup needs them (DeferIndexing):
	// past either bound they are indexed at once, so a session that never
	// looks a value up holds no more than this of its results.
	maxPending      = 64
	maxPendingBytes = 1 << 20
)

// Source names that are not results.
const (
	sourceIntent = "intent"
	sourceConfig = "config"
)

// vkey is a value's normal form: its kind and a keyed hash of its text.
type vkey struct {
	kind byte
	sum  uint64
}

// entry is what is known of one value: the sources it was seen in (indexes
// into names) and when it was last seen.
type entry struct {
	seq uint64
	n   uint8
	src [maxPerValue]uint16
}

type queued struct {
	key vkey
	seq uint64
}

// NewProvenance starts a session's provenance with the user's declared
// intent (may be empty) and the values of the agent's configuration (the
// arguments the session was started with, named recipients, accounts).
func NewProvenance(intent string, config []string) *Provenance {
	return NewPins(intent, config).Provenance()
}

// Pins are the normal forms of a session's trusted texts, its intent and
// its configuration's values, worked out once to start any number of
// sessions with them: finding the tokens and quoted phrases of a text
// costs more than deciding a short session, and a replay starts every
// session of a history with the same configuration and a few intents.
type Pins struct {
	intent string // lower-cased, for verbatim matching of words and phrases
	forms  []form // the intent's, within the budget of one set
	config []form // the configuration's, within the budget of one set
}

// form is a normal form of a value (normalize), not yet hashed: the
// hash is keyed per session.
type form struct {
	kind byte
	norm string
}

// NewPins works out the normal forms of intent and config, as
// NewProvenance pins them.
func NewPins(intent string, config []string) *Pins {
	pp := &Pins{}
	budget := maxValues
	for _, c := range config {
		if len(c) > maxIntent {
			c = c[:maxIntent]
		}
		pp.config = appendForms(pp.config, c, &budget)
	}
	if len(intent) > maxIntent {
		intent = intent[:maxIntent]
	}
	pp.intent = strings.ToLower(intent)
	budget = maxValues
	pp.forms = appendForms(nil, intent, &budget)
	return pp
}

// Provenance is a new session's provenance with these pins, as
// NewProvenance makes it.
func (pp *Pins) Provenance() *Provenance {
	p := &Provenance{
		seed:       maphash.MakeSeed(),
		values:     make(map[vkey]entry),
		nameIdx:    make(map[string]uint16),
		configKeys: make(map[vkey]struct{}, len(pp.config)),
		intentKeys: make(map[vkey]struct{}, len(pp.forms)),
		intent:     pp.intent,
	}
	for _, f := range pp.config {
		p.configKeys[p.key(f.kind, f.norm)] = struct{}{}
	}
	for _, f := range pp.forms {
		p.intentKeys[p.key(f.kind, f.norm)] = struct{}{}
	}
	return p
}

// SetIntent replaces the declared intent, for frameworks that change the
// task within a session: values of the old task are no longer "intent".
func (p *Provenance) SetIntent(text string) {
	pp := NewPins(text, nil)
	p.intent = pp.intent
	p.intentKeys = make(map[vkey]struct{}, len(pp.forms))
	for _, f := range pp.forms {
		p.intentKeys[p.key(f.kind, f.norm)] = struct{}{}
	}
}

// appendForms appends the normal forms of a trusted text and of the
// values embedded in it, while budget lasts.
func appendForms(out []form, text string, budget *int) []form {
	add := func(s string) {
		eachForm(s, func(f form) {
			if *budget > 0 {
				out = append(out, f)
				*budget--
			}
		})
	}
	add(text)
	for _, t := range tokens(text) {
		add(t)
	}
	for _, q := range quoted(text) {
		add(q)
	}
	return out
}

// From returns the sources of an argument's value, sorted and without
// duplicates; nil when the value was seen nowhere. A string is matched in
// its normal forms (normalize), and is from the intent also when it
// appears verbatim in the intent's text, as whole words, in any case. A
// number matches its decimal spellings. Booleans and null carry nothing
// to reuse and have no source.
//
// A list or object is from a source only when all of it is: From returns
// the sources that every scalar inside it shares, so a list mixing the
// intent's recipient with one from an email is from neither. To judge each
// element on its own (every element trusted, each for its own reason), use
// FromEach.
func (p *Provenance) From(value any) []string {
	switch value.(type) {
	case []any, map[string]any, []string:
		var common []string
		first := true
		forLeaves(value, 0, func(leaf any) bool {
			s := p.fromScalar(leaf)
			if first {
				common, first = s, false
			} else {
				common = slices.DeleteFunc(common, func(c string) bool { return !slices.Contains(s, c) })
			}
			return len(common) > 0
		})
		if len(common) == 0 {
			return nil
		}
		return common
	}
	return p.fromScalar(value)
}

// FromEach returns the sources of each scalar in a list or object (in
// order; an object's fields by name), or of the value itself when it is a
// scalar; booleans and nulls are skipped, as in From. A list is trusted
// when Trusted holds for every element's sources; an empty list has no
// elements to distrust.
func (p *Provenance) FromEach(value any) [][]string {
	var out [][]string
	forLeaves(value, 0, func(leaf any) bool {
		out = append(out, p.fromScalar(leaf))
		return true
	})
	return out
}

// Trusted reports whether a value with these sources may be used where
// trust is required. With no allow-list, any source but free text of a
// result ("text:*") is trusted. With one, a source must match one of its
// patterns (path.Match globs: "intent", "config", "result:get_contacts.*",
// "text:get_webpage"); a malformed pattern matches nothing.
func Trusted(sources []string, allow []string) bool {
	for _, s := range sources {
		if len(allow) == 0 {
			if !strings.HasPrefix(s, "text:") {
				return true
			}
			continue
		}
		for _, a := range allow {
			if ok, err := path.Match(a, s); ok && err == nil {
				return true
			}
		}
	}
	return false
}

// fromScalar is From for one scalar.
func (p *Provenance) fromScalar(v any) []string {
	var forms []form
	switch t := v.(type) {
	case string:
		eachForm(t, func(f form) { forms = append(forms, f) })
	default:
		if n, ok := numberOf(v); ok {
			forms = append(forms, form{kindNumber, n})
		}
	}
	var out []string
	add := func(name string) {
		if !slices.Contains(out, name) {
			out = append(out, name)
		}
	}
	if len(p.pending) > 0 && !p.lookPending(forms, add) {
		p.index()
	}
	for _, f := range forms {
		k := p.key(f.kind, f.norm)
		if _, ok := p.intentKeys[k]; ok {
			add(sourceIntent)
		}
		if _, ok := p.configKeys[k]; ok {
			add(sourceConfig)
		}
		if e, ok := p.values[k]; ok {
			for _, i := range e.src[:e.n] {
				add(p.names[i])
			}
		}
	}
	if s, ok := v.(string); ok && p.inIntent(s) {
		add(sourceIntent)
	}
	slices.Sort(out)
	return out
}

// inIntent reports whether s appears in the intent's text as whole words,
// in any case: "Networking event", "Paris", "Le Marais Boutique".
func (p *Provenance) inIntent(s string) bool {
	needle := strings.ToLower(strings.TrimSpace(s))
	if needle == "" || len(needle) > len(p.intent) {
		return false
	}
	hay := p.intent
	for off := 0; ; {
		i := strings.Index(hay[off:], needle)
		if i < 0 {
			return false
		}
		start, end := off+i, off+i+len(needle)
		if boundary(hay, start, needle, true) && boundary(hay, end, needle, false) {
			return true
		}
		_, size := utf8.DecodeRuneInString(hay[start:])
		off = start + size
	}
}

// boundary reports whether a match of needle at this edge of hay does not
// cut a word in two: the needle's own edge is not a letter or digit, or
// the neighbouring character in hay is not.
func boundary(hay string, at int, needle string, before bool) bool {
	var own, next rune
	if before {
		own, _ = utf8.DecodeRuneInString(needle)
		if at == 0 {
			return true
		}
		next, _ = utf8.DecodeLastRuneInString(hay[:at])
	} else {
		own, _ = utf8.DecodeLastRuneInString(needle)
		if at == len(hay) {
			return true
		}
		next, _ = utf8.DecodeRuneInString(hay[at:])
	}
	word := func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }
	return !word(own) || !word(next)
}

// key hashes a normal form with the session's seed.
func (p *Provenance) key(kind byte, norm string) vkey {
	return vkey{kind: kind, sum: maphash.String(p.seed, norm)}
}

// eachForm calls f with each normal form of a string: its primary form
// and, for a phone-like value, its digits.
func eachForm(s string, f func(form)) {
	if kind, norm, ok := normalize(s); ok {
		f(form{kind, norm})
	}
	if d, ok := phoneDigits(s); ok {
		f(form{kindDigits, d})
	}
}

// record notes that the value with key k was seen in source name.
func (p *Provenance) record(k vkey, name string) {
	idx, ok := p.nameIdx[name]
	if !ok {
		if len(p.names) >= maxSources {
			return // dropping a source can only take trust away
		}
		idx = uint16(len(p.names))
		p.names = append(p.names, name)
		p.nameIdx[name] = idx
	}
	e, seen := p.values[k]
	if !slices.Contains(e.src[:e.n], idx) {
		switch {
		case int(e.n) < maxPerValue:
			e.src[e.n] = idx
			e.n++
		case !strings.HasPrefix(name, "text:"):
			// Full: a structured source displaces free text, which
			// never made the value trusted anyway.
			for i, old := range e.src[:e.n] {
				if strings.HasPrefix(p.names[old], "text:") {
					e.src[i] = idx
					break
				}
			}
		}
	}
	p.seq++
	e.seq = p.seq
	p.values[k] = e
	p.queue = append(p.queue, queued{key: k, seq: e.seq})
	if !seen && len(p.values) > maxValues {
		p.evict()
	}
	if len(p.queue) > 2*maxValues {
		p.compact()
	}
}

// evict forgets the value observed least recently. Queue items whose value
// was seen again since are stale and skipped.
func (p *Provenance) evict() {
	for p.head < len(p.queue) {
		q := p.queue[p.head]
		p.head++
		if e, ok := p.values[q.key]; ok && e.seq == q.seq {
			delete(p.values, q.key)
			return
		}
	}
}

// compact drops stale items from the eviction queue, so that a value seen
// over and over does not grow it.
func (p *Provenance) compact() {
	live := make([]queued, 0, len(p.values))
	for _, q := range p.queue[p.head:] {
		if e, ok := p.values[q.key]; ok && e.seq == q.seq {
			live = append(live, q)
		}
	}
	p.queue, p.head = live, 0
}

// maxTokenScan bounds the prose a call's argument is scanned for tokens.
const maxTokenScan = 64 << 10

// Tokens returns the reusable values embedded in prose (addresses, URLs,
// account numbers, amounts, ids), as Observe finds them in free text, so
// that a value inside a message the agent wrote is held to where it came
// from. Text beyond 64 KiB is not scanned.
func (p *Provenance) Tokens(text string) []string {
	if len(text) > maxTokenScan {
		text = text[:maxTokenScan]
	}
	return tokens(text)
}
