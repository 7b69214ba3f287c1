package supervisor

import (
	"slices"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/workflows"
)

// Policy is what one agent's calls are decided against: its workflow graph
// (with the workflow's own rules) and the rules that apply on top (global
// rules plus the agent's). With a nil Workflow every call is allowed by the
// graph, subject to Rules: whether an agent without a workflow is served at
// all is the caller's choice.
type Policy struct {
	Workflow *workflows.Workflow
	Rules    []eval.Rule // call rules and result rules (OnResult) together
}

// empty reports whether the policy has nothing to decide with: no
// workflow and no rules. Every visible call is then allowed and the
// session keeps no state.
func (p *Policy) empty() bool { return p.Workflow == nil && len(p.Rules) == 0 }

// Decide is the one decision function that live traffic and replay both
// call: graph, budgets and workflow rules, then the policy's rules, on the
// verdict ladder (strongest wins, every reason kept; an error denies). It is
// pure; the State returned is the one to keep. When a step-up is approved,
// keep Decision.Approved() instead.
func (p *Policy) Decide(st workflows.State, call workflows.Call, now time.Time) (workflows.Decision, workflows.State) {
	d, _ := p.Workflow.Decide(st, call, now)
	if !st.Killed && len(p.Rules) > 0 {
		v, reasons, reads := eval.EvaluateReads(p.Rules, st.Env(call, nil, now), false)
		if len(reasons) > 0 {
			d.Raise(v, reasons...)
			d.Reads.Merge(reads)
		}
	}
	return d, d.State()
}

// Observe applies a call's result: the workflow's result bindings and
// result rules, then the policy's result rules. steps are the Decision's
// Steps for that call. A result withheld from the agent (any verdict above
// flag) leaves nothing of itself in the state: a throttled one, which
// would otherwise advance it, keeps st.
func (p *Policy) Observe(st workflows.State, steps []string, call workflows.Call, result workflows.Result, now time.Time) (workflows.Decision, workflows.State) {
	d, _ := p.Workflow.Observe(st, steps, call, result, now)
	if !st.Killed && slices.ContainsFunc(p.Rules, func(r eval.Rule) bool { return r.OnResult }) {
		env := st.Env(call, d.Parsed(), now) // the workflow's parse of the result
		v, reasons, names := eval.Fired(p.Rules, env, true)
		if len(reasons) > 0 {
			d.Raise(v, reasons...)
			d.Rules = append(d.Rules, names...)
		}
	}
	if d.Verdict == warden.Throttle {
		return d, st
	}
	return d, d.State()
}
