package supervisor

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/workflows"
)

// sessionProvenance is where the values a session could reuse came from:
// its declared intent and every result it was handed (see eval.Provenance).
// Results arrive while other calls of the session are decided, so it has
// a lock of its own.
type sessionProvenance struct {
	mu sync.Mutex
	p  *eval.Provenance
}

func newSessionProvenance(in *workflows.Intent) *sessionProvenance {
	return &sessionProvenance{p: eval.NewProvenance(intentWords(in), nil)}
}

// intentWords is the text of an intent whose values count as the user's:
// the request and the values it names.
func intentWords(in *workflows.Intent) string {
	if in == nil {
		return ""
	}
	parts := append([]string{in.Request}, in.Recipients...)
	for _, a := range in.Amounts {
		parts = append(parts, fmt.Sprint(a))
	}
	return strings.Join(parts, "\n")
}

// From and Tokens make it the workflow's Provenance.
func (sp *sessionProvenance) From(v any) []string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.p.From(v)
}

func (sp *sessionProvenance) Tokens(text string) []string {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.p.Tokens(text)
}

// observe records a result the agent was handed.
func (sp *sessionProvenance) observe(tool string, structured any, text string) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.p.Observe(tool, structured, text)
}

// setIntent replaces the intent's values (the task changed).
func (sp *sessionProvenance) setIntent(in *workflows.Intent) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	sp.p.SetIntent(intentWords(in))
}

// ofArgs is each argument's provenance, by path, for approvers and the
// judge: the sources of every value in it ("" for a value from nowhere).
func (sp *sessionProvenance) ofArgs(args map[string]any) map[string][]string {
	out := map[string][]string{}
	keys := make([]string, 0, len(args))
	for k := range args {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		srcs := sp.From(args[k])
		if srcs == nil {
			srcs = []string{}
		}
		out[k] = srcs
	}
	return out
}

var _ workflows.Provenance = (*sessionProvenance)(nil)
