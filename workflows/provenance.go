package workflows

import (
	"fmt"
	"sort"
	"strings"

	"github.com/warden-dev/warden"
)

// Provenance says where the values a session could reuse came from: the
// declared intent ("intent"), the agent's configuration ("config"), a
// structured field of an earlier result ("result:<tool>.<path>"), or free
// text of one ("text:<tool>", the weakest: injected instructions live
// there). The supervisor keeps one per session, and replay its own, both
// fed the same results, so that decisions stay a function of the record.
type Provenance interface {
	// From returns the sources of a value, sorted; none when it appeared
	// nowhere (the agent composed it).
	From(v any) []string
	// Tokens returns the reusable values embedded in prose (addresses,
	// URLs, account numbers, amounts), whose sources From gives.
	Tokens(text string) []string
}

// untrusted reports whether sources say a value appeared only in free
// text of results: known, and from nowhere better.
func untrusted(sources []string) bool {
	if len(sources) == 0 {
		return false
	}
	for _, s := range sources {
		if !strings.HasPrefix(s, "text:") {
			return false
		}
	}
	return true
}

// validSource reports whether a trusted_sources entry names a source.
func validSource(s string) bool {
	switch {
	case s == "intent" || s == "config":
		return true
	case strings.HasPrefix(s, "result:") && len(s) > len("result:"):
		return true
	case strings.HasPrefix(s, "text:") && len(s) > len("text:"):
		return true
	}
	return false
}

// sourceMatches reports whether any of sources matches one of the globs.
func sourceMatches(sources, globs []string) bool {
	for _, s := range sources {
		for _, g := range globs {
			if globMatch(g, s) {
				return true
			}
		}
	}
	return false
}

// leaf is one value of a call's arguments, at its path.
type leaf struct {
	path  string
	value any
}

// leaves flattens arguments into their scalar values, each with its path
// (a.b; list elements share their list's path).
func leaves(path string, v any, out []leaf) []leaf {
	switch x := v.(type) {
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			p := k
			if path != "" {
				p = path + "." + k
			}
			out = leaves(p, x[k], out)
		}
	case []any:
		for _, e := range x {
			out = leaves(path, e, out)
		}
	case nil, bool:
	default:
		out = append(out, leaf{path, v})
	}
	return out
}

// isProse is a string argument that is text the agent wrote (a message, a
// body), not a value: its embedded tokens are checked instead of it.
func isProse(s string) bool { return len(s) >= 40 && strings.ContainsAny(s, " \n\t") }

// values are what of a leaf has a provenance: the leaf itself, or the
// tokens of prose.
func values(p Provenance, l leaf) []any {
	if s, ok := l.value.(string); ok && isProse(s) {
		toks := p.Tokens(s)
		out := make([]any, len(toks))
		for i, t := range toks {
			out[i] = t
		}
		return out
	}
	return []any{l.value}
}

// checkProvenance holds an effect call to where its values came from: a
// value whose only source is free text of a result gets the workflow's
// on_untrusted response (default step_up), and an argument a matched step
// names in trusted_sources must come from one of them. Both only raise.
func (w *Workflow) checkProvenance(d *Decision, take []*step, call Call) {
	if call.kind() != KindTool {
		return
	}
	p := call.Provenance
	if p == nil {
		// Untracked: nothing has a source, so trusted_sources refuse
		// (fail closed) and nothing reads as free text only.
		p = noProvenance{}
	}
	if w.IsEffect(call.Tool) {
		for _, l := range leaves("", map[string]any(call.Args), nil) {
			for _, v := range values(p, l) {
				if srcs := p.From(v); untrusted(srcs) {
					d.raiseProvenance(w.onUntrusted, fmt.Sprintf("argument %s: %s comes only from free text of a result (%s): an effect call needs a trusted source",
						l.path, quoteValue(v), strings.Join(srcs, ", ")))
				}
			}
		}
	}
	for _, s := range take {
		args := make([]string, 0, len(s.trusted))
		for a := range s.trusted {
			args = append(args, a)
		}
		sort.Strings(args)
		for _, a := range args {
			v, ok := call.Args[a]
			if !ok {
				continue
			}
			for _, l := range leaves(a, v, nil) {
				for _, x := range values(p, l) {
					if srcs := p.From(x); !sourceMatches(srcs, s.trusted[a]) {
						from := "nowhere the session saw"
						if len(srcs) > 0 {
							from = strings.Join(srcs, ", ")
						}
						d.raiseProvenance(s.onViolation, fmt.Sprintf("step %s: argument %s: %s comes from %s, not from %s",
							s.name, l.path, quoteValue(x), from, strings.Join(s.trusted[a], ", ")))
					}
				}
			}
		}
	}
}

func quoteValue(v any) string {
	if s, ok := v.(string); ok {
		if len(s) > 80 {
			s = s[:80] + "…"
		}
		return fmt.Sprintf("%q", s)
	}
	return fmt.Sprint(v)
}

// raiseProvenance raises the decision for a value's provenance: a
// step-up that only provenance caused is what a judge may clear.
func (d *Decision) raiseProvenance(v warden.Verdict, reasons ...string) {
	d.Verdict = warden.Max(d.Verdict, v)
	d.Reasons = append(d.Reasons, reasons...)
	d.byProvenance = warden.Max(d.byProvenance, v)
}

// ProvenanceOnly reports whether the decision steps up only because of
// where values came from: every other check allowed at most a throttle.
func (d Decision) ProvenanceOnly() bool {
	return d.Verdict == warden.StepUp && d.byProvenance == warden.StepUp && d.others < warden.StepUp
}

// TracksProvenance reports whether the workflow reads where values came
// from (effects, trusted_sources, or from() in a guard or rule), so that
// the results of its sessions must be indexed.
func (w *Workflow) TracksProvenance() bool {
	if w == nil {
		return false
	}
	if len(w.effects) > 0 {
		return true
	}
	for _, s := range w.steps {
		if len(s.trusted) > 0 || s.guard != nil && readsProvenance(s.guard.Source()) {
			return true
		}
	}
	for _, r := range append(w.rules, w.resultRules...) {
		if readsProvenance(r.When) {
			return true
		}
	}
	return false
}

// readsProvenance reports whether an expression calls from() or sources().
func readsProvenance(expr string) bool {
	return strings.Contains(expr, "from(") || strings.Contains(expr, "sources(")
}

// IsEffect reports whether tool acts on the world, as the workflow says.
func (w *Workflow) IsEffect(tool string) bool {
	if w == nil {
		return false
	}
	for _, e := range w.effects {
		if e.match(tool) {
			return true
		}
	}
	return false
}

// ConfigValues are the values the workflow itself gives its sessions (its
// vars' initial values): for provenance, values of the agent's
// configuration ("config").
func (w *Workflow) ConfigValues() []string {
	if w == nil {
		return nil
	}
	var out []string
	for _, v := range w.initVars {
		for _, l := range leaves("", normalise(v), nil) {
			out = append(out, fmt.Sprint(l.value))
		}
	}
	sort.Strings(out)
	return out
}

// noProvenance is what a call decided without a provenance index sees:
// no value has a source.
type noProvenance struct{}

func (noProvenance) From(any) []string      { return nil }
func (noProvenance) Tokens(string) []string { return nil }
