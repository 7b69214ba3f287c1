package workflows

import (
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
)

// Workflow is one agent's approved work, compiled: the step graph with its
// guards, bindings and budgets, the session budgets, and the agent's rules.
// It is immutable after loading and safe for concurrent use.
type Workflow struct {
	File        string
	Agent       string
	Purpose     string
	onViolation warden.Verdict
	maxCalls    int
	maxDuration time.Duration
	onExceed    warden.Verdict
	perMinute   float64 // per-session throttle; 0 means none
	burst       int
	initVars    map[string]any
	steps       []*step
	byName      map[string]*step
	start       []*step
	anytime     []*step
	rules       []eval.Rule
	resultRules []eval.Rule
	warnings    Errors
	// requireIntent refuses calls of sessions that declared no intent.
	requireIntent bool
	risk          riskPolicy     // how signals add up to a verdict
	effects       []toolPattern  // tools whose calls act on the world
	onUntrusted   warden.Verdict // an effect value whose only source is free text
}

type step struct {
	name        string
	description string
	kind        string      // KindTool, KindResource or KindPrompt
	tool        toolPattern // over tool names, resource URIs or prompt names (kind)
	guard       *eval.Program
	binds       []binding
	budget      int
	next        []*step
	nextAll     bool // next: ["*"]
	onViolation warden.Verdict
	approval    time.Duration       // approval_timeout; 0 means the default
	trusted     map[string][]string // argument → source globs its value must come from
	anytime     bool
	terminal    bool
	pos         pos
}

type binding struct {
	name     string
	add      bool
	prog     *eval.Program
	onResult bool
}

// Throttle returns the workflow's per-session rate limit (`throttle:`), a
// token bucket of perMinute calls a minute holding up to burst; ok is false
// when the workflow sets none.
func (w *Workflow) Throttle() (perMinute float64, burst int, ok bool) {
	if w == nil || w.perMinute == 0 {
		return 0, 0, false
	}
	return w.perMinute, w.burst, true
}

// Warnings returns what validation found that does not stop loading
// (a tool that no configured upstream offers).
func (w *Workflow) Warnings() Errors { return w.warnings }

// Rules returns the workflow's own rules (`rules:`) and result rules
// (`result_rules:`, with OnResult set), compiled.
func (w *Workflow) Rules() []eval.Rule {
	out := append([]eval.Rule(nil), w.rules...)
	return append(out, w.resultRules...)
}

// Tools returns the tool names and patterns that the workflow can ever
// accept, sorted and without duplicates: the least-privilege tools/list.
func (w *Workflow) Tools() []string {
	if w == nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	for _, s := range w.steps {
		if s.kind == KindTool && !seen[s.tool.src] {
			seen[s.tool.src] = true
			out = append(out, s.tool.src)
		}
	}
	sortStrings(out)
	return out
}

// Offers reports whether the workflow can ever accept a call of this tool;
// handy for filtering tools/list against concrete names.
func (w *Workflow) Offers(tool string) bool { return w.Accepts(KindTool, tool) }

// Accepts reports whether some step of the workflow names this tool,
// resource URI or prompt (kind): whether the agent may ever use it. A nil
// workflow accepts everything.
func (w *Workflow) Accepts(kind, name string) bool {
	if w == nil {
		return true
	}
	c := Call{Kind: kind, Tool: name}
	for _, s := range w.steps {
		if s.accepts(c) {
			return true
		}
	}
	return false
}

// AcceptsTemplate reports whether some resource step could accept a URI
// of this URI template (RFC 6570): for resources/templates/list and for
// completion of its arguments. A nil workflow accepts everything.
func (w *Workflow) AcceptsTemplate(template string) bool {
	if w == nil {
		return true
	}
	for _, s := range w.steps {
		if s.kind == KindResource && TemplateMayMatch(s.tool.src, template) {
			return true
		}
	}
	return false
}

// accepts reports whether the step names this call: the same kind, and
// the step's pattern matches its name.
func (s *step) accepts(c Call) bool { return s.kind == c.kind() && s.tool.match(c.Tool) }
