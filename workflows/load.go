package workflows

import (
	"errors"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/goccy/go-yaml"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
)

// Option adjusts loading.
type Option func(*options)

type options struct {
	knownTools []string
	haveKnown  bool
}

// WithKnownTools gives the names of the tools that configured upstreams
// offer; a step whose tool matches none of them is a warning.
func WithKnownTools(names []string) Option {
	return func(o *options) { o.knownTools, o.haveKnown = names, true }
}

// Load reads and compiles a workflow file. On failure the error is an Errors
// listing every problem as file:line:col.
func Load(path string, opts ...Option) (*Workflow, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read workflow: %w", err)
	}
	return Parse(path, data, opts...)
}

// Parse compiles a workflow from YAML; filename is used in error messages.
// Guards, bindings and rules are compiled here, once.
func Parse(filename string, data []byte, opts ...Option) (*Workflow, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	var spec fileSpec
	c := &compiler{file: filename, opts: o}
	var read bool
	c.errs, read = decodeAll(filename, data, &spec)
	if !read {
		return nil, c.errs
	}
	w := c.compile(&spec)
	if len(c.errs) > 0 {
		slices.SortStableFunc(c.errs, func(a, b Error) int {
			if a.Line != b.Line {
				return a.Line - b.Line
			}
			return a.Col - b.Col
		})
		return nil, c.errs
	}
	w.warnings = c.warns
	return w, nil
}

func yamlErr(file string, err error) Error {
	e := Error{File: file, Msg: err.Error()}
	var ye yaml.Error
	if errors.As(err, &ye) {
		e.Msg = ye.GetMessage()
		if tk := ye.GetToken(); tk != nil && tk.Position != nil {
			e.Line, e.Col = tk.Position.Line, tk.Position.Column
		}
	}
	return e
}

type compiler struct {
	file  string
	opts  options
	errs  Errors
	warns Errors
}

func (c *compiler) errorf(p pos, format string, args ...any) {
	c.errs = append(c.errs, Error{File: c.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) warnf(p pos, format string, args ...any) {
	c.warns = append(c.warns, Error{File: c.file, Line: p.Line, Col: p.Col, Msg: fmt.Sprintf(format, args...)})
}

func (c *compiler) verdict(s str, def warden.Verdict) warden.Verdict {
	if s.Value == "" {
		return def
	}
	v, err := warden.ParseVerdict(s.Value)
	if err != nil {
		c.errorf(s.pos, "%v", err)
		return def
	}
	if v == warden.Allow {
		c.errorf(s.pos, "a violation cannot be answered with allow")
		return def
	}
	return v
}

func (c *compiler) compile(spec *fileSpec) *Workflow {
	w := &Workflow{
		File:     c.file,
		Agent:    spec.Agent.Value,
		Purpose:  spec.Purpose.Value,
		byName:   map[string]*step{},
		initVars: spec.Vars,

		requireIntent: spec.RequireIntent,
	}
	for _, e := range spec.Effects {
		w.effects = append(w.effects, newToolPattern(e.Value))
	}
	w.onUntrusted = c.verdict(spec.OnUntrusted, warden.StepUp)
	w.risk = c.riskPolicy(spec.Risk)
	w.onViolation = c.verdict(spec.OnViolation, warden.StepUp)
	w.onExceed = w.onViolation
	if b := spec.Budget; b != nil {
		if b.MaxCalls < 0 {
			c.errorf(b.MaxDuration.pos, "budget.max_calls must not be negative")
		}
		w.maxCalls = b.MaxCalls
		if b.MaxDuration.Value != "" {
			d, err := time.ParseDuration(b.MaxDuration.Value)
			if err != nil || d <= 0 {
				c.errorf(b.MaxDuration.pos, "budget.max_duration %q is not a positive duration like 30m or 2h", b.MaxDuration.Value)
			}
			w.maxDuration = d
		}
		w.onExceed = c.verdict(b.OnExceed, w.onViolation)
	}
	if t := spec.Throttle; t != nil {
		w.perMinute, w.burst = c.throttle(t)
	}
	if len(spec.Steps) == 0 {
		c.errorf(pos{1, 1}, "the workflow has no steps")
	}
	// First pass: steps by name, so next can refer forward.
	for i := range spec.Steps {
		ss := &spec.Steps[i]
		name := ss.Name.Value
		switch {
		case name == "":
			c.errorf(ss.pos, "step has no name")
			continue
		case strings.ContainsAny(name, "()* \t"):
			c.errorf(ss.Name.pos, "step name %q may not contain spaces, parentheses or *", name)
			continue
		case w.byName[name] != nil:
			c.errorf(ss.Name.pos, "step %q is defined twice (first at line %d)", name, w.byName[name].pos.Line)
			continue
		}
		kind, tool := c.stepTarget(ss)
		st := &step{
			name:        name,
			description: ss.Description.Value,
			kind:        kind,
			tool:        newToolPattern(tool),
			budget:      ss.Budget,
			onViolation: c.verdict(ss.OnViolation, w.onViolation),
			pos:         ss.pos,
			trusted:     ss.TrustedSources,
		}
		for arg, srcs := range ss.TrustedSources {
			if len(srcs) == 0 {
				c.errorf(ss.pos, "step %q: trusted_sources.%s names no source", name, arg)
			}
			for _, src := range srcs {
				if !validSource(src) {
					c.errorf(ss.pos, "step %q: trusted_sources.%s: %q is not a source (intent, config, result:<tool>.<field>, text:<tool>; * globs)", name, arg, src)
				}
			}
		}
		if ss.Budget < 0 {
			c.errorf(ss.pos, "step %q: budget must not be negative", name)
		}
		if a := ss.ApprovalTimeout; a.Value != "" {
			d, err := time.ParseDuration(a.Value)
			if err != nil || d <= 0 {
				c.errorf(a.pos, "step %q: approval_timeout %q is not a positive duration like 30s or 5m", name, a.Value)
			}
			st.approval = d
		}
		w.steps = append(w.steps, st)
		w.byName[name] = st
	}
	c.checkKnownTools(w, spec)
	lookup := func(ref str, what string) *step {
		st := w.byName[ref.Value]
		if st == nil {
			c.errorf(ref.pos, "unknown step %q in %s", ref.Value, what)
		}
		return st
	}
	for _, ref := range spec.Start {
		if st := lookup(ref, "start"); st != nil {
			w.start = append(w.start, st)
		}
	}
	for _, ref := range spec.Anytime {
		if st := lookup(ref, "anytime"); st != nil {
			st.anytime = true
			w.anytime = append(w.anytime, st)
		}
	}
	for _, ref := range spec.Terminal {
		if st := lookup(ref, "terminal"); st != nil {
			st.terminal = true
		}
	}
	if len(spec.Start) == 0 && len(spec.Anytime) == 0 && len(spec.Steps) > 0 {
		c.errorf(pos{1, 1}, "the workflow has no start steps and no anytime steps, so no call can ever be accepted")
	}
	// Second pass: edges, guards, bindings.
	for i := range spec.Steps {
		ss := &spec.Steps[i]
		st := w.byName[ss.Name.Value]
		if st == nil || st.pos != ss.pos {
			continue
		}
		for _, ref := range ss.Next {
			if ref.Value == "*" {
				st.nextAll = true
				continue
			}
			if n := lookup(ref, fmt.Sprintf("next of step %q", st.name)); n != nil {
				st.next = append(st.next, n)
			}
		}
		if st.nextAll {
			st.next = w.steps
		}
		if ss.Guard.Value != "" {
			p, err := eval.Compile(ss.Guard.Value, eval.Guard)
			if err != nil {
				c.errorf(ss.Guard.pos, "step %q: guard: %v", st.name, err)
			} else if p.UsesResult() {
				c.errorf(ss.Guard.pos, "step %q: a guard runs before the call, so it cannot read `result`", st.name)
			} else {
				st.guard = p
			}
		}
		for _, b := range ss.Bind {
			c.binding(st, b)
		}
	}
	for _, st := range w.steps {
		if len(st.next) == 0 && !st.terminal && !st.anytime {
			c.errorf(st.pos, "step %q has no next steps and is not terminal: say where the session goes after it, or list it under terminal", st.name)
		}
		if st.terminal && len(st.next) > 0 {
			c.errorf(st.pos, "step %q is terminal but has next steps", st.name)
		}
	}
	w.rules = c.rules(spec.Rules, false)
	w.resultRules = c.rules(spec.ResultRules, true)
	c.checkReachable(w)
	c.checkVars(w, spec)
	return w
}

// stepTarget is what a step names: a tool, a resource URI pattern or a
// prompt (at most one of them); a step with none is named for its tool.
func (c *compiler) stepTarget(ss *stepSpec) (kind, pattern string) {
	kind, pattern = KindTool, ss.Tool.Value
	n := 0
	for _, t := range []struct {
		kind string
		s    str
	}{{KindTool, ss.Tool}, {KindResource, ss.Resource}, {KindPrompt, ss.Prompt}} {
		if t.s.Value != "" {
			n++
			kind, pattern = t.kind, t.s.Value
		}
	}
	if n > 1 {
		c.errorf(ss.pos, "step %q names more than one of tool, resource and prompt; a step is one of them", ss.Name.Value)
	}
	if pattern == "" {
		pattern = ss.Name.Value // a step named for its tool needs no tool line
	}
	return kind, pattern
}

// maxBurst bounds a throttle's burst; more is a typo, not a limit.
const maxBurst = 1_000_000

// throttle reads the workflow's rate limit; both fields are required.
func (c *compiler) throttle(t *throttleSpec) (perMinute float64, burst int) {
	if t.PerMinute.Value == "" || t.Burst.Value == "" {
		c.errorf(t.pos, "throttle needs per_minute (calls per minute, > 0) and burst (calls at once, >= 1), e.g. {per_minute: 60, burst: 10}")
		return 0, 0
	}
	perMinute, err := strconv.ParseFloat(t.PerMinute.Value, 64)
	if err != nil || perMinute <= 0 || math.IsInf(perMinute, 0) || math.IsNaN(perMinute) {
		c.errorf(t.PerMinute.pos, "throttle.per_minute %q is not a positive number", t.PerMinute.Value)
		perMinute = 0
	}
	burst, err = strconv.Atoi(t.Burst.Value)
	if err != nil || burst < 1 || burst > maxBurst {
		c.errorf(t.Burst.pos, "throttle.burst %q is not a whole number between 1 and %d", t.Burst.Value, maxBurst)
		burst = 0
	}
	if perMinute == 0 || burst == 0 {
		return 0, 0
	}
	return perMinute, burst
}

func (c *compiler) binding(st *step, b bindSpec) {
	if b.Var.Value == "" {
		c.errorf(b.pos, "step %q: binding has no var", st.name)
		return
	}
	if (b.Set.Value == "") == (b.Add.Value == "") {
		c.errorf(b.pos, "step %q: binding of %q needs exactly one of set or add", st.name, b.Var.Value)
		return
	}
	src := b.Set
	if b.Add.Value != "" {
		src = b.Add
	}
	p, err := eval.Compile(src.Value, eval.Binding)
	if err != nil {
		c.errorf(src.pos, "step %q: binding of %q: %v", st.name, b.Var.Value, err)
		return
	}
	st.binds = append(st.binds, binding{name: b.Var.Value, add: b.Add.Value != "", prog: p, onResult: p.UsesResult()})
}

func (c *compiler) rules(rs []eval.Rule, onResult bool) []eval.Rule {
	out := make([]eval.Rule, 0, len(rs))
	for _, r := range rs {
		r.OnResult = onResult
		if err := r.Compile(); err != nil {
			c.errorf(pos{r.Line, r.Column}, "%v", err)
			continue
		}
		out = append(out, r)
	}
	return out
}

func (c *compiler) checkKnownTools(w *Workflow, spec *fileSpec) {
	if !c.opts.haveKnown {
		return
	}
	for i, st := range w.steps {
		if st.kind != KindTool {
			continue // the known names are tools'
		}
		found := false
		for _, name := range c.opts.knownTools {
			if st.tool.match(name) {
				found = true
				break
			}
		}
		if !found {
			p := st.pos
			for j := range spec.Steps {
				if spec.Steps[j].Name.Value == st.name {
					p = spec.Steps[j].pos
					if spec.Steps[j].Tool.Value != "" {
						p = spec.Steps[j].Tool.pos
					}
				}
			}
			c.warnf(p, "step %q: no configured upstream offers a tool matching %q", w.steps[i].name, st.tool.src)
		}
	}
}

// checkReachable reports steps that no path from a start step reaches.
func (c *compiler) checkReachable(w *Workflow) {
	seen := reach(w.start)
	for _, st := range w.steps {
		if !seen[st] && !st.anytime {
			c.errorf(st.pos, "step %q is unreachable: no path from a start step leads to it", st.name)
		}
	}
}

// reach is every step reachable from roots (roots included).
func reach(roots []*step) map[*step]bool {
	seen := map[*step]bool{}
	stack := append([]*step(nil), roots...)
	for len(stack) > 0 {
		s := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if seen[s] {
			continue
		}
		seen[s] = true
		stack = append(stack, s.next...)
	}
	return seen
}

// checkVars reports guards and rules that read a variable that is never
// bound nor declared, and guards whose variable no binding can set before
// the guard runs (no binding step is anytime or leads to the guarded step).
func (c *compiler) checkVars(w *Workflow, spec *fileSpec) {
	binders := map[string][]*step{}
	for _, st := range w.steps {
		for _, b := range st.binds {
			binders[b.name] = append(binders[b.name], st)
		}
	}
	declared := func(v string) bool { _, ok := w.initVars[v]; return ok }
	for i := range spec.Steps {
		ss := &spec.Steps[i]
		st := w.byName[ss.Name.Value]
		if st == nil || st.guard == nil || st.pos != ss.pos {
			continue
		}
		for _, v := range st.guard.Vars() {
			if declared(v) {
				continue
			}
			bs := binders[v]
			if len(bs) == 0 {
				c.errorf(ss.Guard.pos, "step %q: guard uses unknown variable vars.%s (no step binds it and it is not declared under vars:)", st.name, v)
				continue
			}
			if !settableBefore(bs, st) {
				names := make([]string, len(bs))
				for j, b := range bs {
					names[j] = b.name
				}
				c.errorf(ss.Guard.pos, "step %q: guard reads vars.%s, which can never be set before it is read (bound only by %s, none of which is anytime or leads to %q)", st.name, v, strings.Join(names, ", "), st.name)
			}
		}
	}
	for _, r := range append(append([]eval.Rule(nil), w.rules...), w.resultRules...) {
		for _, v := range r.Program().Vars() {
			if !declared(v) && len(binders[v]) == 0 {
				c.errorf(pos{r.Line, r.Column}, "rule uses unknown variable vars.%s (no step binds it and it is not declared under vars:)", v)
			}
		}
	}
}

// settableBefore reports whether some binder can run before target.
func settableBefore(binders []*step, target *step) bool {
	for _, b := range binders {
		if b.anytime {
			return true
		}
		// b leads to target through at least one edge (a step on a cycle
		// can set the variable for its own next visit).
		if reach(b.next)[target] {
			return true
		}
	}
	return false
}

func sortStrings(s []string) { slices.Sort(s) }

// riskPolicy reads the risk section: thresholds (0 turns one off) and the
// half-life, defaults for what is not said.
func (c *compiler) riskPolicy(r *riskSpec) riskPolicy {
	rp := riskPolicy{halfLife: DefaultHalfLife, flag: DefaultRiskFlag, stepUp: DefaultRiskStepUp, kill: DefaultRiskKill}
	if r == nil {
		return rp
	}
	if r.HalfLife.Value != "" {
		d, err := time.ParseDuration(r.HalfLife.Value)
		if err != nil || d <= 0 {
			c.errorf(r.HalfLife.pos, "risk.half_life %q is not a positive duration like 30m", r.HalfLife.Value)
		}
		rp.halfLife = d
	}
	for _, t := range []struct {
		name string
		v    *float64
		into *float64
	}{{"flag", r.Flag, &rp.flag}, {"step_up", r.StepUp, &rp.stepUp}, {"kill", r.Kill, &rp.kill}} {
		if t.v == nil {
			continue
		}
		if *t.v < 0 {
			c.errorf(r.HalfLife.pos, "risk.%s must not be negative (0 turns it off)", t.name)
		}
		*t.into = *t.v
	}
	return rp
}
