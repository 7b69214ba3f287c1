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

	mu        sync.Mutex
	extracted *extraction // the provenance index's walk of the result
	exTool    string      // the tool it was walked for (names its sources)
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

// extraction is the provenance index's walk of the result as a result of
// tool, walked (by walk) at the first call for that tool and kept for the
// next session that indexes the same result.
func (r *ParsedResult) extraction(tool string, walk func() *extraction) *extraction {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.extracted == nil || r.exTool != tool {
		r.extracted, r.exTool = walk(), tool
	}
	return r.extracted
}

// Done reports whether the result has been parsed: the tree is then held
// in memory, which the provenance index counts against its bound.
func (r *ParsedResult) Done() bool { return r.done.Load() }
