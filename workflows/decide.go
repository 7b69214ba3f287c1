package workflows

import (
	"fmt"
	"strings"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
)

// Decision is the answer to one call (or one result): the verdict, every
// reason behind it, and the steps the call matched. When the call was out of
// scope, Steps are the steps it would take if a human approved it.
type Decision struct {
	Verdict warden.Verdict `json:"verdict"`
	Reasons []string       `json:"reasons,omitempty"`
	Step    string         `json:"step,omitempty"`
	Steps   []string       `json:"steps,omitempty"`
	// Rules names the result rules that fired on a result (Observe), so
	// that its record can say which rule withheld it.
	Rules []string `json:"rules,omitempty"`
	// ApprovalTimeout is how long a step-up of this call is held: the
	// longest approval_timeout of the steps the call matched or would
	// match (Steps). Zero means the configured default.
	ApprovalTimeout time.Duration `json:"-"`
	// Reads are the arguments that the guards and rules behind Reasons
	// read: an approval of this call for the session covers later calls
	// only where these arguments are the same.
	Reads eval.Reads `json:"-"`

	prev, next State              // the state before, and as it is if the call goes ahead
	parsed     *eval.ParsedResult // the result Observe was given, parsed on demand
	// byProvenance is the strongest verdict provenance asked for, others
	// the strongest of every other check (see ProvenanceOnly).
	byProvenance, others warden.Verdict
}

// Raise combines another check into the decision: the strongest verdict
// wins and every reason is kept.
func (d *Decision) Raise(v warden.Verdict, reasons ...string) {
	d.Verdict = warden.Max(d.Verdict, v)
	d.Reasons = append(d.Reasons, reasons...)
	d.others = warden.Max(d.others, v)
}

// State returns the state to keep after this decision: advanced when the
// call goes ahead (allow, flag, throttle), unchanged when it is refused
// (step_up, deny), and killed on kill.
func (d Decision) State() State {
	switch {
	case d.Verdict <= warden.Throttle:
		return d.next
	case d.Verdict == warden.Kill:
		k := d.prev.clone()
		if !k.Killed {
			k.Killed = true
			k.KillReason = strings.Join(d.Reasons, "; ")
		}
		return k
	default:
		return d.prev
	}
}

// Approved returns the state as if a human approved the held call: it goes
// ahead and the session advances to Steps, with their argument bindings
// (approval makes the value trusted).
func (d Decision) Approved() State { return d.next }

// Start opens a session on the workflow. A nil workflow gives a state that
// only keeps history.
func (w *Workflow) Start(info SessionInfo) State {
	st := State{Session: info, Steps: []string{startStep}, HalfLife: w.HalfLife()}
	if w != nil && len(w.initVars) > 0 {
		st.Vars = make(map[string]any, len(w.initVars))
		for k, v := range w.initVars {
			st.Vars[k] = normalise(v)
		}
	}
	return st
}

// Decide matches a call against the workflow graph, budgets and the
// workflow's own rules. It is pure: st is not changed; the State returned is
// the one to keep (Decision.State()). A nil workflow allows every call
// (subject to rules the caller adds with Raise) and keeps history.
func (w *Workflow) Decide(st State, call Call, now time.Time) (Decision, State) {
	d := w.decide(st, call, now)
	return d, d.State()
}

func (w *Workflow) decide(st State, call Call, now time.Time) Decision {
	if len(st.Steps) == 0 {
		st.Steps = []string{startStep} // a zero State starts at the start
	}
	d := Decision{prev: st}
	if st.Killed {
		d.Verdict = warden.Kill
		d.Reasons = []string{"session already killed"}
		d.next = st
		return d
	}
	env := st.Env(call, nil, now)
	if w == nil {
		d.next = advance(st, nil, call, now, d.Verdict)
		return d
	}
	if w.maxCalls > 0 && st.Calls >= w.maxCalls {
		d.Raise(w.onExceed, fmt.Sprintf("session budget: %d calls used of %d", st.Calls, w.maxCalls))
	}
	if w.maxDuration > 0 && !st.Session.Started.IsZero() && now.Sub(st.Session.Started) > w.maxDuration {
		d.Raise(w.onExceed, fmt.Sprintf("session budget: %s elapsed of %s", now.Sub(st.Session.Started).Round(time.Second), w.maxDuration))
	}
	w.checkIntent(&d, st.Session.Intent, call)
	w.checkRisk(&d, st, now)

	accepted, refused, failed := w.match(st, call, env)
	var take []*step
	switch {
	case len(failed) > 0:
		// A guard that errors denies: fail closed.
		d.Raise(warden.Deny, failed...)
		take = accepted
	case len(accepted) > 0:
		take = accepted
	case len(refused) > 0:
		for _, r := range refused {
			d.Raise(r.step.onViolation, r.reason)
			d.Reads.Merge(r.reads)
			take = append(take, r.step)
		}
	default:
		elsewhere := w.stepsFor(call)
		if len(elsewhere) == 0 {
			d.Raise(w.onViolation, fmt.Sprintf("%s is not in the workflow of agent %q", call.what(), w.Agent))
		} else {
			names := make([]string, len(elsewhere))
			for i, s := range elsewhere {
				d.Raise(s.onViolation)
				names[i] = s.name
				if s.guard != nil {
					// The guard did not run: what an approver lets through
					// is bound to what it would have read.
					d.Reads.Merge(s.guard.Reads())
				}
			}
			d.Raise(warden.Allow, fmt.Sprintf("%s (step %s) is not a legal next step after %s", call.what(), strings.Join(names, ", "), strings.Join(st.Steps, ", ")))
			take = elsewhere
		}
	}
	for _, s := range take {
		d.Steps = append(d.Steps, s.name)
		d.ApprovalTimeout = max(d.ApprovalTimeout, s.approval)
	}
	if len(d.Steps) > 0 {
		d.Step = d.Steps[0]
	}
	if v, reasons, reads := eval.EvaluateReads(w.rules, env, false); len(reasons) > 0 {
		d.Raise(v, reasons...)
		d.Reads.Merge(reads)
	}
	w.checkProvenance(&d, take, call)
	next := advance(st, take, call, now, d.Verdict)
	if err := applyBindings(&next, take, env, false); err != nil {
		d.Raise(warden.Deny, err.Error())
	}
	d.next = next
	return d
}

type refusal struct {
	step   *step
	reason string
	reads  eval.Reads // what the guard that refused read
}

// match tries every candidate: successors of the current steps first, then
// anytime steps. It returns the steps that accept the call, the steps whose
// tool matched but which refused it (guard false, budget spent), and the
// reasons of guards that failed to run.
func (w *Workflow) match(st State, call Call, env *eval.Env) (accepted []*step, refused []refusal, failed []string) {
	seen := make(map[*step]bool, 8)
	try := func(s *step) {
		if seen[s] || !s.accepts(call) {
			return
		}
		seen[s] = true
		if s.budget > 0 && st.StepCounts[s.name] >= s.budget {
			refused = append(refused, refusal{step: s, reason: fmt.Sprintf("step %q: budget of %d calls spent", s.name, s.budget)})
			return
		}
		if s.guard != nil {
			ok, err := s.guard.Bool(env)
			if err != nil {
				failed = append(failed, fmt.Sprintf("step %q: guard failed, denying: %v", s.name, err))
				return
			}
			if !ok {
				why := fmt.Sprintf("step %q: guard is false: %s", s.name, s.guard.Source())
				if s.description != "" {
					why = fmt.Sprintf("step %q (%s): guard is false: %s", s.name, s.description, s.guard.Source())
				}
				refused = append(refused, refusal{step: s, reason: why, reads: s.guard.Reads()})
				return
			}
		}
		accepted = append(accepted, s)
	}
	for _, name := range st.Steps {
		if name == startStep {
			for _, s := range w.start {
				try(s)
			}
			continue
		}
		if cur := w.byName[name]; cur != nil {
			for _, s := range cur.next {
				try(s)
			}
		}
	}
	// Anytime steps last, so Decision.Step names the graph step when both
	// accept; an anytime step does not move the session (see advance).
	for _, s := range w.anytime {
		try(s)
	}
	return accepted, refused, failed
}

// stepsFor lists the steps anywhere in the graph that name this call.
func (w *Workflow) stepsFor(call Call) []*step {
	var out []*step
	for _, s := range w.steps {
		if s.accepts(call) {
			out = append(out, s)
		}
	}
	return out
}

// advance returns the state after the call goes ahead on the given steps.
func advance(st State, take []*step, call Call, now time.Time, v warden.Verdict) State {
	next := st.clone()
	var moved []string
	for _, s := range take {
		next.StepCounts[s.name]++
		if !s.anytime {
			moved = append(moved, s.name)
		}
	}
	if len(moved) > 0 {
		next.Steps = moved
	}
	// The history helpers (called, count, last, since) are about tools:
	// resource URIs are unbounded, and would grow the state without end.
	if call.kind() == KindTool {
		th := next.Tools[call.Tool]
		th.Count++
		th.LastAt = now
		th.LastArgs = call.Args
		th.LastResult = nil
		next.Tools[call.Tool] = th
	}
	next.Calls++
	stepName := ""
	if len(take) > 0 {
		stepName = take[0].name
	}
	next.record(Event{Tool: call.Tool, Step: stepName, Verdict: v, At: now})
	return next
}

// applyBindings runs the bindings of steps (argument bindings, or result
// bindings when onResult) and writes the variables into st.
func applyBindings(st *State, steps []*step, env *eval.Env, onResult bool) error {
	var errs []string
	for _, s := range steps {
		for _, b := range s.binds {
			if b.onResult != onResult {
				continue
			}
			out, err := b.prog.Run(env)
			if err != nil {
				errs = append(errs, fmt.Sprintf("step %q: binding of %q failed: %v", s.name, b.name, err))
				continue
			}
			out = normalise(out)
			st.ownVars()
			if b.add {
				st.Vars[b.name] = addTo(st.Vars[b.name], out)
			} else {
				st.Vars[b.name] = out
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%s", strings.Join(errs, "; "))
	}
	return nil
}

// addTo unions the scalar values of v (flattening lists) into the set held
// in cur, returning a new slice: states share values, so none is mutated.
func addTo(cur, v any) []any {
	old, _ := cur.([]any)
	out := append([]any(nil), old...)
	seen := make(map[any]bool, len(out))
	for _, x := range out {
		if isScalar(x) {
			seen[x] = true
		}
	}
	var walk func(x any)
	walk = func(x any) {
		switch t := x.(type) {
		case nil:
		case []any:
			for _, e := range t {
				walk(e)
			}
		default:
			if !isScalar(t) {
				return // maps are not set members: select a field instead
			}
			if s, ok := t.(string); ok && s == "" {
				return
			}
			if !seen[t] {
				seen[t] = true
				out = append(out, t)
			}
		}
	}
	walk(v)
	return out
}

func isScalar(x any) bool {
	switch x.(type) {
	case string, float64, bool:
		return true
	}
	return false
}

// normalise makes numbers float64 (as JSON decoding does) and lists []any,
// so that values bound from YAML results compare equal to JSON arguments.
func normalise(v any) any {
	switch t := v.(type) {
	case int:
		return float64(t)
	case int64:
		return float64(t)
	case uint64:
		return float64(t)
	case int32:
		return float64(t)
	case float32:
		return float64(t)
	case []string:
		out := make([]any, len(t))
		for i, s := range t {
			out[i] = s
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, e := range t {
			out[i] = normalise(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, e := range t {
			out[k] = normalise(e)
		}
		return out
	}
	return v
}

// Observe applies what a call's result brings: the result bindings of the
// steps the call took (Decision.Steps), and the workflow's result rules. A
// result binding that fails to run flags (the variable stays unset, so
// later calls that need it step up). The State returned is the one to keep.
func (w *Workflow) Observe(st State, steps []string, call Call, result Result, now time.Time) (Decision, State) {
	d := w.observe(st, steps, call, result, now)
	return d, d.State()
}

func (w *Workflow) observe(st State, steps []string, call Call, result Result, now time.Time) Decision {
	d := Decision{prev: st, Steps: steps}
	if len(steps) > 0 {
		d.Step = steps[0]
	}
	if st.Killed {
		d.Verdict, d.Reasons, d.next = warden.Kill, []string{"session already killed"}, st
		return d
	}
	// The result is parsed only if something reads it: a result binding
	// or rule here, the policy's result rules, last(tool).result, or the
	// provenance index (see eval.ParsedResult).
	parsed := result.Parse
	if parsed == nil {
		parsed = eval.NewParsedResult(result.Text, result.Structured)
	}
	d.parsed = parsed
	next := st.cloneForResult()
	if th, ok := next.Tools[call.Tool]; ok && call.kind() == KindTool && len(result.Text) <= lastResultMax {
		th.LastResult = newLastResult(parsed)
		next.Tools[call.Tool] = th
	}
	if w != nil {
		var take []*step
		reads := len(w.resultRules) > 0
		for _, name := range steps {
			if s := w.byName[name]; s != nil {
				take = append(take, s)
				reads = reads || s.readsResult()
			}
		}
		var value any
		if reads {
			value = parsed.Value()
		}
		env := st.Env(call, value, now)
		if err := applyBindings(&next, take, env, true); err != nil {
			d.Raise(warden.Flag, err.Error())
		}
		if v, reasons, names := eval.Fired(w.resultRules, env, true); len(reasons) > 0 {
			d.Raise(v, reasons...)
			d.Rules = append(d.Rules, names...)
		}
	}
	d.next = next
	return d
}

// Parsed is the result as Observe parsed it (eval.ParseOutput), so that
// the provenance index need not parse it again; nil when Observe did not
// get that far (a killed session) or for a call's decision. It parses the
// result if nothing has yet.
func (d Decision) Parsed() any {
	if d.parsed == nil {
		return nil
	}
	return d.parsed.Value()
}

// Result is the result Observe was given, to be parsed by whatever first
// needs it (eval.Provenance.ObserveResult); nil where Parsed is nil.
func (d Decision) Result() *eval.ParsedResult { return d.parsed }

// ParseResult is eval.ParseOutput for a Result: structure when it has one.
func ParseResult(r Result) any { return eval.ParseOutput(r.Text, r.Structured) }

// checkIntent narrows the workflow by the session's declared intent: a
// workflow that requires one refuses calls without it, and a tool call
// that none of the intent's actions covers steps up (the task did not ask
// for it). An intent never lowers a verdict.
func (w *Workflow) checkIntent(d *Decision, in *Intent, call Call) {
	if in == nil || in.Request == "" && len(in.Actions) == 0 {
		if w.requireIntent {
			d.Raise(warden.Deny, fmt.Sprintf("the workflow of agent %q requires a declared intent, and the session has none", w.Agent))
		}
		return
	}
	if len(in.Actions) == 0 || call.kind() != KindTool {
		return
	}
	for _, a := range in.Actions {
		if globMatch(a, call.Tool) {
			return
		}
	}
	d.Raise(warden.StepUp, fmt.Sprintf("%s is not among the actions the session's declared intent needs (%s)", call.what(), strings.Join(in.Actions, ", ")))
}
