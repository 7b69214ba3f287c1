package eval

import (
	"fmt"

	"github.com/warden-dev/warden"
)

// Cause says why a call has its verdict, as far as the judge's bounds care.
// The zero value is the cautious one: a verdict the judge may not clear.
type Cause int

// The causes the judge distinguishes.
const (
	CauseChecks         Cause = iota // the workflow, a rule or a limit set the verdict (perhaps with provenance)
	CauseProvenanceOnly              // missing provenance alone set the verdict: no other check fired
)

// Bounds are the moves an operator lets the judge make. The zero value lets
// it make none (its judgements are only recorded). Whatever the bounds, the
// judge never lowers a deny or a kill and never raises a call beyond step_up.
type Bounds struct {
	Clear bool // a consistent call's step_up caused only by missing provenance becomes allow
	Raise bool // an inconsistent call at allow, flag or throttle becomes step_up
}

// DefaultBounds lets the judge clear and raise.
func DefaultBounds() Bounds { return Bounds{Clear: true, Raise: true} }

// ApplyJudgement moves current by the judgement j within b, and says why the
// verdict moved or did not. A judgement without an answer leaves the verdict
// as it was: the judge fails closed.
func ApplyJudgement(current warden.Verdict, cause Cause, j Judgement, b Bounds) (warden.Verdict, string) {
	if j.Answer == nil {
		why := j.Err
		if why == "" {
			why = "no judgement"
		}
		return current, fmt.Sprintf("judge gave no answer (%s); %s stands", why, current)
	}
	said := fmt.Sprintf("judge: %s with the declared intent (%s)", consistency(j.Answer.Consistent), j.Answer.Reason)
	switch {
	case current < warden.Allow || current > warden.Kill:
		return current, fmt.Sprintf("%s; %s is not on the ladder and stands", said, current)
	case current >= warden.Deny:
		return current, fmt.Sprintf("%s; the judge never lowers %s", said, current)
	case j.Answer.Consistent && current == warden.StepUp && cause == CauseProvenanceOnly && b.Clear:
		return warden.Allow, fmt.Sprintf("%s; step_up for missing provenance cleared", said)
	case !j.Answer.Consistent && current < warden.StepUp && b.Raise:
		return warden.StepUp, fmt.Sprintf("%s; %s raised to step_up", said, current)
	}
	return current, fmt.Sprintf("%s; %s stands", said, current)
}

func consistency(ok bool) string {
	if ok {
		return "consistent"
	}
	return "not consistent"
}
