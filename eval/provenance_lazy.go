package eval

import (
	"sync"
	"sync/atomic"
)

// ParsedResult is a tool result whose parse (ParseOutput) is made at most
// once, by whoever first needs it: a result binding or rule that reads
// result, last(tool).result, or the provenance index. Parsing a result's
// YAML costs far more than deciding a call, and most results are read by
// nothing, so replay parses only those something reads. It is safe for
// concurrent use (states that share it may be read by several goroutines).
type ParsedResult struct {
	text       string
	structured any
	once       sync.Once
	done       atomic.Bool
	v          any
}

// NewParsedResult holds a result's text and structuredContent unparsed.
func NewParsedResult(text string, structured any) *ParsedResult {
	return &ParsedResult{text: text, structured: structured}
}

// Value is ParseOutput of the result, parsed on the first call.
func (r *ParsedResult) Value() any {
	r.once.Do(func() {
		r.v = ParseOutput(r.text, r.structured)
		r.done.Store(true)
	})
	return r.v
}

// Done reports whether the result has been parsed: the tree is then held
// in memory, which the provenance index counts against its bound.
func (r *ParsedResult) Done() bool { return r.done.Load() }
