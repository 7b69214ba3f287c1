package workflows

import (
	"encoding/json"
	"sync"

	"github.com/warden-dev/warden/eval"
)

// readsResult reports whether any of the step's result bindings reads the
// call's result, so that Observe parses a result only when it is read.
func (s *step) readsResult() bool {
	for _, b := range s.binds {
		if b.onResult {
			return true
		}
	}
	return false
}

// lastResult is a tool's last result as last(tool).result sees it,
// normalised when first read: most are never read, and parsing them all
// was most of a replay's cost. It marshals as the value it stands for, so
// a persisted state is as before and resumes with the plain value.
type lastResult struct {
	once sync.Once
	r    *eval.ParsedResult // dropped once normalised, so only v is kept
	v    any
}

func newLastResult(r *eval.ParsedResult) *lastResult { return &lastResult{r: r} }

// get is the normalised result, normalised on the first call.
func (l *lastResult) get() any {
	l.once.Do(func() { l.v, l.r = normalise(l.r.Value()), nil })
	return l.v
}

// MarshalJSON writes the normalised result.
func (l *lastResult) MarshalJSON() ([]byte, error) { return json.Marshal(l.get()) }

// resultValue is ToolHistory.LastResult as expressions see it: a lazy
// result parsed now, a resumed one as it is.
func resultValue(v any) any {
	if l, ok := v.(*lastResult); ok {
		return l.get()
	}
	return v
}
