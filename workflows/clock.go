package workflows

import (
	"fmt"
	"regexp"
)

// readsClock finds what an expression reads of the clock: now, a
// session's or a signal's time (started, at), since(), or the session's
// risk (which decays).
var readsClock = regexp.MustCompile(`\b(now|started|since|risk)\b|\.at\b`)

// TimeDependent names what in the workflow decides by the clock (its
// session budget's max_duration, its throttle, and the expressions that read now,
// started, since(), a time .at or the decaying risk), so that a replay can say its verdicts
// depend on when the calls were made. Risk, which decays with time, counts
// only in sessions that carry signals, and is the caller's to add.
func (w *Workflow) TimeDependent() []string {
	if w == nil {
		return nil
	}
	var out []string
	if w.maxDuration > 0 {
		out = append(out, fmt.Sprintf("budget.max_duration %s", w.maxDuration))
	}
	if w.perMinute > 0 {
		out = append(out, fmt.Sprintf("throttle %g per minute", w.perMinute))
	}
	for _, s := range w.steps {
		if s.guard != nil && readsClock.MatchString(s.guard.Source()) {
			out = append(out, fmt.Sprintf("step %s: guard %q", s.name, s.guard.Source()))
		}
		for _, b := range s.binds {
			if readsClock.MatchString(b.prog.Source()) {
				out = append(out, fmt.Sprintf("step %s: binding of %s %q", s.name, b.name, b.prog.Source()))
			}
		}
	}
	for _, r := range w.Rules() {
		if ReadsClock(r.When) {
			out = append(out, fmt.Sprintf("rule %q", r.When))
		}
	}
	return out
}

// ReadsClock reports whether an expression reads the clock.
func ReadsClock(expr string) bool { return readsClock.MatchString(expr) }
