package workflows

import (
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/warden-dev/warden/eval"
)

// Observed is one recorded session to learn a workflow from.
type Observed struct {
	ID string
	// Intent is the user's request the session was declared for (empty for
	// none): values in it have the source "intent", as they will live.
	Intent string
	Calls  []ObservedCall
}

// ObservedCall is one call of an observed session with what it returned.
type ObservedCall struct {
	// Kind is "", KindTool, KindResource or KindPrompt.
	Kind       string
	Tool       string
	Args       map[string]any
	Text       string
	Structured any
}

// LearnOptions tune Learn; the zero value is usable.
type LearnOptions struct {
	// Agent names the workflow's agent.
	Agent string
	// Headroom multiplies observed maxima into budgets (default 2); a
	// budget is also at least the maximum plus 2.
	Headroom float64
	// MinSupport is how many sessions must show an argument coming from a
	// field of an earlier result before its trusted_sources are proposed
	// (default 2).
	MinSupport int
}

// Learned is a workflow proposed from observed sessions, with the evidence
// for each part. YAML renders it as a workflow file.
type Learned struct {
	Agent    string        `json:"agent"`
	Sessions int           `json:"sessions"`
	Calls    int           `json:"calls"`
	MaxCalls int           `json:"max_calls_seen"`
	Budget   int           `json:"budget_max_calls"`
	Steps    []LearnedStep `json:"steps"`
}

// LearnedStep is one proposed step: a tool (or resource, or prompt) with
// how often it was seen, where sessions went after it and where its
// arguments came from.
type LearnedStep struct {
	Name string `json:"name"`
	Kind string `json:"kind"`
	Tool string `json:"tool"`
	// Anytime steps are read-only lookups (see readOnly), allowed anywhere.
	Anytime bool `json:"anytime"`
	// Start counts the sessions whose first graph (non-anytime) call this was.
	Start    int  `json:"start_sessions,omitempty"`
	Terminal bool `json:"terminal,omitempty"`
	Sessions int  `json:"sessions"`
	Calls    int  `json:"calls"`
	MaxCalls int  `json:"max_calls_per_session"`
	Budget   int  `json:"budget"`
	// Next are the graph steps seen to follow this one (anytime calls in
	// between do not move a session, so they are skipped).
	Next    []Transition `json:"next,omitempty"`
	Trusted []TrustedArg `json:"trusted_sources,omitempty"`
}

// Transition is an observed edge and the sessions that took it.
type Transition struct {
	To       string `json:"to"`
	Sessions int    `json:"sessions"`
}

// TrustedArg is an argument whose every observed value had a source, in at
// least MinSupport sessions a field of an earlier result. Sources are the
// trusted ones seen (intent, config, result:<tool>.<path>), and free text of
// a tool (text:<tool>) only where a value had nothing better: Weak lists
// those, for the reviewer.
type TrustedArg struct {
	Arg     string   `json:"arg"`
	Sources []string `json:"sources"`
	Weak    []string `json:"weak,omitempty"`
	// Calls is how many calls carried the argument; FromResult how many
	// sessions had its value from a result's field.
	Calls      int `json:"calls"`
	FromResult int `json:"from_result_sessions"`
}

// readOnlyVerbs start the names of tools taken to be read-only lookups.
var readOnlyVerbs = []string{"get", "list", "search", "read", "find", "fetch", "lookup", "query", "check",
	"show", "describe", "view", "count", "browse"}

// readOnly reports whether a call is taken for a read-only lookup: a
// resource read, a prompt get, or a tool whose name starts with a reading
// verb (get_, list_, search_, read_, find_, ...; also getX, read-X). It is
// a heuristic on names: a tool named get_and_delete is read-only to it.
func readOnly(kind, tool string) bool {
	if kind == KindResource || kind == KindPrompt {
		return true
	}
	lower := strings.ToLower(tool)
	for _, v := range readOnlyVerbs {
		if lower == v {
			return true
		}
		if rest, ok := strings.CutPrefix(tool, v); ok && rest != "" {
			c := rest[0]
			if c == '_' || c == '-' || c == '.' || (c >= 'A' && c <= 'Z') {
				return true
			}
		}
	}
	return false
}

// stepKey identifies a step by what it names.
type stepKey struct{ kind, tool string }

// argStats is what was seen of one argument of one step.
type argStats struct {
	calls      int
	nowhere    bool // some value appeared nowhere the session saw (composed)
	fromResult map[string]bool
	sources    map[string]bool
}

// stepStats accumulates one step's evidence.
type stepStats struct {
	LearnedStep
	sessions map[string]bool
	next     map[string]map[string]bool // to → sessions
	args     map[string]*argStats
}

// Learn proposes a workflow from observed sessions: a step per tool; the
// read-only ones anytime, the others a graph whose start steps and edges
// are the first calls and transitions seen; budgets from observed maxima
// with headroom; and trusted_sources for arguments whose values always had
// a source and, in at least MinSupport sessions, came from a field of an
// earlier result. Replaying the sessions against it escalates none:
// budgets only grow, every edge taken is in the graph, and the trusted
// sources are computed with the provenance index replay uses.
func Learn(sessions []Observed, opts LearnOptions) (*Learned, error) {
	if len(sessions) == 0 {
		return nil, errors.New("learn: no sessions to learn from")
	}
	if opts.Headroom <= 0 {
		opts.Headroom = 2
	}
	if opts.MinSupport <= 0 {
		opts.MinSupport = 2
	}
	l := &Learned{Agent: opts.Agent, Sessions: len(sessions)}
	byKey := map[stepKey]*stepStats{}
	var order []*stepStats
	names := map[string]bool{}
	stats := func(c ObservedCall) *stepStats {
		k := stepKey{c.Kind, c.Tool}
		if k.kind == "" {
			k.kind = KindTool
		}
		if s := byKey[k]; s != nil {
			return s
		}
		s := &stepStats{LearnedStep: LearnedStep{Name: stepName(k, names), Kind: k.kind, Tool: k.tool, Anytime: readOnly(k.kind, k.tool)},
			sessions: map[string]bool{}, next: map[string]map[string]bool{}, args: map[string]*argStats{}}
		byKey[k] = s
		order = append(order, s)
		return s
	}
	for i, o := range sessions {
		id := o.ID
		if id == "" {
			id = "#" + strconv.Itoa(i+1)
		}
		l.Calls += len(o.Calls)
		l.MaxCalls = max(l.MaxCalls, len(o.Calls))
		prov := eval.NewProvenance(o.Intent, nil)
		perSession := map[*stepStats]int{}
		var prev *stepStats
		for _, c := range o.Calls {
			if c.Tool == "" {
				return nil, errors.New("learn: session " + id + ": a call has no tool")
			}
			s := stats(c)
			s.Calls++
			s.sessions[id] = true
			perSession[s]++
			if !s.Anytime {
				switch {
				case prev == nil:
					s.Start++
				default:
					if prev.next[s.Name] == nil {
						prev.next[s.Name] = map[string]bool{}
					}
					prev.next[s.Name][id] = true
				}
				s.observeArgs(prov, id, c.Args)
				prev = s
			}
			if c.Text != "" || c.Structured != nil {
				prov.Observe(c.Tool, c.Structured, c.Text)
			}
		}
		for s, n := range perSession {
			s.MaxCalls = max(s.MaxCalls, n)
		}
	}
	l.Budget = headroom(l.MaxCalls, opts.Headroom)
	for _, s := range order {
		s.finish(opts)
		l.Steps = append(l.Steps, s.LearnedStep)
	}
	sort.SliceStable(l.Steps, func(i, j int) bool {
		a, b := l.Steps[i], l.Steps[j]
		if a.Anytime != b.Anytime {
			return !a.Anytime
		}
		return a.Name < b.Name
	})
	return l, nil
}

// observeArgs records where each argument's values came from, judged as
// trusted_sources judges them (each leaf; the tokens of prose).
func (s *stepStats) observeArgs(prov *eval.Provenance, session string, args map[string]any) {
	for a, v := range args {
		st := s.args[a]
		if st == nil {
			st = &argStats{fromResult: map[string]bool{}, sources: map[string]bool{}}
			s.args[a] = st
		}
		st.calls++
		for _, lf := range leaves(a, v, nil) {
			for _, x := range values(prov, lf) {
				srcs := prov.From(x)
				if len(srcs) == 0 {
					st.nowhere = true
				}
				// Free text is proposed only for values that had nothing
				// better: it is where injected instructions live.
				onlyText := untrusted(srcs)
				for _, src := range srcs {
					if onlyText || !strings.HasPrefix(src, "text:") {
						st.sources[src] = true
					}
					if strings.HasPrefix(src, "result:") {
						st.fromResult[session] = true
					}
				}
			}
		}
	}
}

// finish turns the counts into the proposal: budgets, edges, terminal and
// trusted sources.
func (s *stepStats) finish(opts LearnOptions) {
	s.Sessions = len(s.sessions)
	s.Budget = headroom(s.MaxCalls, opts.Headroom)
	for to, ss := range s.next {
		s.Next = append(s.Next, Transition{To: to, Sessions: len(ss)})
	}
	sort.Slice(s.Next, func(i, j int) bool { return s.Next[i].To < s.Next[j].To })
	s.Terminal = !s.Anytime && len(s.Next) == 0
	for a, st := range s.args {
		if st.nowhere || len(st.fromResult) < opts.MinSupport {
			continue
		}
		srcs := make([]string, 0, len(st.sources))
		for src := range st.sources {
			srcs = append(srcs, src)
		}
		sort.Strings(srcs)
		var weak []string
		for _, src := range srcs {
			if strings.HasPrefix(src, "text:") {
				weak = append(weak, src)
			}
		}
		s.Trusted = append(s.Trusted, TrustedArg{Arg: a, Sources: srcs, Weak: weak, Calls: st.calls, FromResult: len(st.fromResult)})
	}
	sort.Slice(s.Trusted, func(i, j int) bool { return s.Trusted[i].Arg < s.Trusted[j].Arg })
}

// headroom is a budget for an observed maximum: max × h, and at least max + 2.
func headroom(seen int, h float64) int {
	return max(int(math.Ceil(float64(seen)*h)), seen+2)
}

// stepName names a step for what it calls: the tool's name, a resource's
// or prompt's prefixed by its kind, with characters a step name may not
// hold replaced, and made unique.
func stepName(k stepKey, taken map[string]bool) string {
	base := k.tool
	if k.kind != KindTool {
		base = k.kind + "_" + base
	}
	base = strings.Map(func(r rune) rune {
		if r == '(' || r == ')' || r == '*' || r == ' ' || r == '\t' || r == '\n' || r == '\r' {
			return '_'
		}
		return r
	}, base)
	name := base
	for i := 2; taken[name]; i++ {
		name = base + "_" + strconv.Itoa(i)
	}
	taken[name] = true
	return name
}
