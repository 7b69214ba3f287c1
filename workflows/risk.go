package workflows

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/warden-dev/warden"
)

// Signal is evidence, seen after the session authenticated, that it may
// not be what it was: its address or user agent changed, its token is
// live elsewhere, its token woke up after a long sleep. Each adds its
// weight to the session's risk, which decays with the workflow's
// half-life.
type Signal struct {
	Name   string    `json:"name"`
	Weight float64   `json:"weight"`
	At     time.Time `json:"at"`
	// Evidence says what was seen, for approvers and the record.
	Evidence string `json:"evidence,omitempty"`
}

// maxSignals bounds the signals a state keeps: the oldest have decayed.
const maxSignals = 32

// WithSignal returns s with sig added (the state is a value). Beyond
// maxSignals the two oldest are merged into one: decay is exponential, so
// the older one's weight carried to the newer one's time counts exactly
// as before from then on, and the risk never drops for want of room.
func (s State) WithSignal(sig Signal) State {
	c := s
	c.Signals = append(append([]Signal(nil), s.Signals...), sig)
	if len(c.Signals) > maxSignals {
		a, b := c.Signals[0], c.Signals[1]
		w := a.Weight
		if s.HalfLife > 0 && b.At.After(a.At) {
			w *= math.Exp2(-float64(b.At.Sub(a.At)) / float64(s.HalfLife))
		}
		merged := Signal{Name: "earlier signals", Weight: b.Weight + w, At: b.At, Evidence: "older signals, merged"}
		c.Signals = append([]Signal{merged}, c.Signals[2:]...)
	}
	return c
}

// Risk is the session's risk at now: each signal's weight, halved every
// halfLife since it was seen (none when halfLife is zero: weights then
// add up for the session's life).
func (s State) Risk(now time.Time, halfLife time.Duration) float64 {
	var r float64
	for _, sig := range s.Signals {
		w := sig.Weight
		if halfLife > 0 && now.After(sig.At) {
			w *= math.Exp2(-float64(now.Sub(sig.At)) / float64(halfLife))
		}
		r += w
	}
	return r
}

// riskPolicy maps a session's risk to the ladder.
type riskPolicy struct {
	halfLife time.Duration
	// thresholds, ascending by verdict; zero means unset.
	flag, stepUp, kill float64
}

// DefaultHalfLife is how fast risk decays when a workflow sets none.
const DefaultHalfLife = 30 * time.Minute

// Default thresholds: risk maps to the ladder at these scores.
const (
	DefaultRiskFlag   = 20
	DefaultRiskStepUp = 50
	DefaultRiskKill   = 80
)

// checkRisk raises d by the session's risk at now. A signal's own
// response is given when it is seen; this is what accumulated evidence
// adds to every later call.
func (w *Workflow) checkRisk(d *Decision, st State, now time.Time) {
	rp := w.risk
	r := st.Risk(now, st.HalfLife)
	if r <= 0 {
		return
	}
	var v warden.Verdict
	switch {
	case rp.kill > 0 && r >= rp.kill:
		v = warden.Kill
	case rp.stepUp > 0 && r >= rp.stepUp:
		v = warden.StepUp
	case rp.flag > 0 && r >= rp.flag:
		v = warden.Flag
	default:
		return
	}
	d.Raise(v, fmt.Sprintf("session risk %.0f (%s) reaches %s", r, signalNames(st.Signals), v))
}

// signalNames lists signals by name, with how many times each was seen.
func signalNames(sigs []Signal) string {
	n := map[string]int{}
	for _, s := range sigs {
		n[s.Name]++
	}
	names := make([]string, 0, len(n))
	for k, c := range n {
		if c > 1 {
			k = fmt.Sprintf("%s ×%d", k, c)
		}
		names = append(names, k)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// HalfLife is how fast the workflow lets risk decay.
func (w *Workflow) HalfLife() time.Duration {
	if w == nil {
		return DefaultHalfLife
	}
	return w.risk.halfLife
}
