package config

import (
	"fmt"
	"math"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// DefaultThrottleMaxDelay is how long a call may be delayed to fit a rate
// limit before it is refused instead.
const DefaultThrottleMaxDelay = 2 * time.Second

// maxBurst bounds a bucket's size; more is a typo, not a limit.
const maxBurst = 1_000_000

// Throttle configures token-bucket rate limits on tool calls. Parse always
// sets it; a nil Rate means no limit at that level.
type Throttle struct {
	// Session limits each session (an agent's own Throttle or its
	// workflow's overrides it).
	Session *Rate
	// Agent limits all sessions of one agent together.
	Agent *Rate
	// MaxDelay is the longest a call is delayed to fit the rate; a call
	// that would wait longer is refused with a retry-after. Zero refuses
	// at once.
	MaxDelay time.Duration
}

// Rate is a token bucket: PerMinute tokens flow in, up to Burst held.
type Rate struct {
	PerMinute float64 // > 0
	Burst     int     // >= 1
}

// String shows the rate as written in the config.
func (r *Rate) String() string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%g/min burst %d", r.PerMinute, r.Burst)
}

// throttle reads the throttle section.
func (d *decoder) throttle(n ast.Node) *Throttle {
	t := &Throttle{MaxDelay: DefaultThrottleMaxDelay}
	fields, ok := d.mapping(n, "throttle", "session", "agent", "max_delay")
	if !ok {
		return t
	}
	for _, f := range fields {
		if f.val == nil {
			continue
		}
		switch f.name {
		case "session":
			t.Session = d.rate(f.val, "throttle.session")
		case "agent":
			t.Agent = d.rate(f.val, "throttle.agent")
		case "max_delay":
			if v, ok := d.delay(f.val, "throttle.max_delay"); ok {
				t.MaxDelay = v
			}
		}
	}
	return t
}

// rate reads {per_minute, burst}; both are required.
func (d *decoder) rate(n ast.Node, what string) *Rate {
	fields, ok := d.mapping(n, what, "per_minute", "burst")
	if !ok {
		return nil
	}
	r := &Rate{}
	var hasRate, hasBurst bool
	for _, f := range fields {
		if f.val == nil {
			continue // reported below as missing
		}
		switch f.name {
		case "per_minute":
			hasRate = true
			if v, ok := d.number(f.val, what+".per_minute"); ok {
				if v <= 0 {
					d.errorf(f.val, "%s.per_minute must be positive, got %g", what, v)
				}
				r.PerMinute = v
			}
		case "burst":
			hasBurst = true
			if v, ok := d.integer(f.val, what+".burst"); ok {
				if v < 1 || v > maxBurst {
					d.errorf(f.val, "%s.burst must be between 1 and %d, got %d", what, maxBurst, v)
				} else {
					r.Burst = int(v)
				}
			}
		}
	}
	if !hasRate || !hasBurst {
		d.errorf(n, "%s needs per_minute (calls per minute, > 0) and burst (calls at once, >= 1), e.g. {per_minute: 60, burst: 10}", what)
	}
	return r
}

// number reads an integer or a finite decimal.
func (d *decoder) number(n ast.Node, what string) (float64, bool) {
	switch v := n.(type) {
	case *ast.FloatNode:
		if math.IsInf(v.Value, 0) || math.IsNaN(v.Value) {
			break
		}
		return v.Value, true
	case *ast.IntegerNode:
		i, ok := d.integer(n, what)
		return float64(i), ok
	case *ast.InfinityNode, *ast.NanNode:
	default:
		d.errorf(n, "%s must be a number, got %s", what, kind(n))
		return 0, false
	}
	d.errorf(n, "%s must be a finite number", what)
	return 0, false
}

// delay reads a duration that may be zero (0 or 0s).
func (d *decoder) delay(n ast.Node, what string) (time.Duration, bool) {
	if i, isInt := n.(*ast.IntegerNode); isInt && i.GetToken().Value == "0" {
		return 0, true
	}
	if s, isStr := n.(*ast.StringNode); isStr {
		if v, err := time.ParseDuration(s.Value); err == nil && v == 0 {
			return 0, true
		}
	}
	return d.duration(n, what)
}
