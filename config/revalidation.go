package config

import (
	"time"

	"github.com/goccy/go-yaml/ast"

	"github.com/warden-dev/warden"
)

// Revalidation says what to do when a session's remote address (IP) or
// user agent changes mid-session, and how signals weigh in its risk.
type Revalidation struct {
	// OnChange is warden.Flag (the default), warden.StepUp or warden.Kill.
	OnChange warden.Verdict
	// SignalWeights override signals' weights by name; DormantAfter is
	// how long an agent unseen makes its token dormant (0: the default).
	SignalWeights map[string]float64
	DormantAfter  time.Duration
}

// revalidation reads the revalidation section.
func (d *decoder) revalidation(n ast.Node) Revalidation {
	r := Revalidation{OnChange: warden.Flag}
	fields, _ := d.mapping(n, "revalidation", "on_change", "signal_weights", "dormant_after")
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "signal_weights":
			r.SignalWeights = d.signalWeights(f.val)
			continue
		case "dormant_after":
			if v, ok := d.duration(f.val, "revalidation.dormant_after"); ok {
				if v <= 0 {
					d.errorf(f.val, "revalidation.dormant_after must be positive")
				}
				r.DormantAfter = v
			}
			continue
		}
		s, ok := d.str(f.val, "revalidation.on_change")
		if !ok {
			continue
		}
		v, err := warden.ParseVerdict(s)
		if err != nil || (v != warden.Flag && v != warden.StepUp && v != warden.Kill) {
			d.errorf(f.val, "revalidation.on_change %q is not one of flag, step_up, kill", s)
			continue
		}
		r.OnChange = v
	}
	return r
}

// signalWeights reads signal name → weight (a number, 0 or more).
func (d *decoder) signalWeights(n ast.Node) map[string]float64 {
	m, ok := n.(*ast.MappingNode)
	if !ok {
		d.errorf(n, "revalidation.signal_weights must be a mapping of signal name to weight")
		return nil
	}
	out := map[string]float64{}
	for _, kv := range m.Values {
		name := kv.Key.GetToken().Value
		w, ok := d.number(kv.Value, "revalidation.signal_weights."+name)
		if !ok {
			continue
		}
		if w < 0 {
			d.errorf(kv.Value, "revalidation.signal_weights.%s must not be negative", name)
			continue
		}
		out[name] = w
	}
	return out
}
