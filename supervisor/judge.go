package supervisor

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/eval"
	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// JudgementRecord is what a judgement event keeps (KindJudgement's Data):
// the call as the judge saw it, its answer, and the verdict before and
// after, so that replay can reuse it instead of asking a model.
type JudgementRecord struct {
	Call      eval.JudgeCall `json:"call"`
	Judgement eval.Judgement `json:"judgement"`
	Before    string         `json:"before"`
	After     string         `json:"after"`
}

// judgeCause says whether a decision is one the judge is asked about, and
// why it has its verdict: a step-up that missing provenance alone caused
// (the judge may clear it), or an effect call that goes ahead (the judge
// may raise it). Nothing is asked for a session with no declared intent:
// consistency with an intent is the judge's one question.
func judgeCause(d workflows.Decision, pol *Policy, call workflows.Call, in *workflows.Intent) (eval.Cause, bool) {
	if in == nil || in.Request == "" || call.Kind != "" && call.Kind != workflows.KindTool {
		return 0, false
	}
	switch {
	case d.ProvenanceOnly():
		return eval.CauseProvenanceOnly, true
	case d.Verdict <= warden.Throttle && pol.Workflow.IsEffect(call.Tool):
		return eval.CauseChecks, true
	}
	return 0, false
}

// judgeCall builds what the judge sees of a call: only trusted context.
func judgeCall(pol *Policy, in *workflows.Intent, call workflows.Call, description string, prov map[string][]string) eval.JudgeCall {
	jc := eval.JudgeCall{Intent: in.Request, Tool: call.Tool, Description: description, Args: call.Args, Provenance: prov}
	if pol.Workflow != nil {
		jc.Purpose = pol.Workflow.Purpose
	}
	return jc
}

// judged moves d by a judgement within bounds, and returns the record.
func judged(d *workflows.Decision, cause eval.Cause, jc eval.JudgeCall, j eval.Judgement, b eval.Bounds) JudgementRecord {
	before := d.Verdict
	v, reason := eval.ApplyJudgement(d.Verdict, cause, j, b)
	d.Verdict = v
	d.Reasons = append(d.Reasons, reason)
	return JudgementRecord{Call: jc, Judgement: j, Before: before.String(), After: v.String()}
}

// judge asks the agent's judge about the call when the decision turns on
// the declared intent, moves the decision within the agent's bounds, and
// records the judgement on the chain before the call. It reports whether
// the verdict moved. Called with the session's decideMu held.
func (c *call) judge(ctx context.Context, st workflows.State, d *workflows.Decision) (bool, error) {
	j := c.sess.current().Judge
	if j == nil {
		return false, nil
	}
	cause, ask := judgeCause(*d, c.pol, c.wf, st.Session.Intent)
	if !ask {
		return false, nil
	}
	prov := c.argsProvenance()
	jc := judgeCall(c.pol, st.Session.Intent, c.wf, c.tool.Def.Description, prov)
	before := d.Verdict
	rec := judged(d, cause, jc, j.Ask(ctx, jc), c.sess.current().JudgeBounds)
	data, err := json.Marshal(rec)
	if err != nil {
		return false, fmt.Errorf("record judgement: %w", err)
	}
	ev := c.event(store.KindJudgement)
	ev.Verdict, ev.Reasons, ev.Data = d.Verdict.String(), d.Reasons[len(d.Reasons)-1:], data
	if _, err := c.s.store.Append(ctx, c.sess.id, ev); err != nil {
		return false, fmt.Errorf("record judgement: %w", err)
	}
	return d.Verdict != before, nil
}
