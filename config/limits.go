package config

import (
	"fmt"
	"path"
	"time"

	"github.com/goccy/go-yaml/ast"
)

// Defaults of the limits section: generous for real agents, tight enough
// that one agent with a valid token cannot exhaust warden or its approvers.
const (
	// DefaultSessionsPerAgent caps an agent's live sessions.
	DefaultSessionsPerAgent = 100
	// DefaultPendingPerSession and DefaultPendingPerAgent cap the calls
	// waiting for an approver; more would be a queue nobody can read.
	DefaultPendingPerSession = 10
	DefaultPendingPerAgent   = 50
)

// DefaultInitialize is the default rate of session openings per agent: 10
// a second, 20 at once.
var DefaultInitialize = Rate{PerMinute: 600, Burst: 20}

// Limits bound what one authenticated agent can make warden hold. Parse
// always sets it, with the defaults for what the file leaves out.
type Limits struct {
	// SessionsPerAgent caps an agent's live sessions; an initialize
	// beyond it is refused (429).
	SessionsPerAgent int
	// Initialize is the rate of an agent's session openings; beyond it
	// they are refused (429).
	Initialize Rate
	// PendingPerSession and PendingPerAgent cap the calls waiting for an
	// approver; a call over either is refused, not queued.
	PendingPerSession, PendingPerAgent int
}

// Budget caps an agent's calls of some tools in a sliding window, across
// its sessions.
type Budget struct {
	Tools string        // a path.Match pattern over exposed tool names
	Max   int           // calls in any window of Per
	Per   time.Duration // the window
}

func defaultLimits() *Limits {
	return &Limits{SessionsPerAgent: DefaultSessionsPerAgent, Initialize: DefaultInitialize,
		PendingPerSession: DefaultPendingPerSession, PendingPerAgent: DefaultPendingPerAgent}
}

// limits reads the limits section.
func (d *decoder) limits(n ast.Node) *Limits {
	l := defaultLimits()
	fields, ok := d.mapping(n, "limits", "sessions_per_agent", "initialize", "pending_approvals_per_session", "pending_approvals_per_agent")
	if !ok {
		return l
	}
	for _, f := range fields {
		if f.val == nil {
			continue // null keeps the default
		}
		switch f.name {
		case "sessions_per_agent":
			l.SessionsPerAgent = d.positive(f.val, "limits.sessions_per_agent", l.SessionsPerAgent)
		case "initialize":
			if r := d.rate(f.val, "limits.initialize"); r != nil {
				l.Initialize = *r
			}
		case "pending_approvals_per_session":
			l.PendingPerSession = d.positive(f.val, "limits.pending_approvals_per_session", l.PendingPerSession)
		case "pending_approvals_per_agent":
			l.PendingPerAgent = d.positive(f.val, "limits.pending_approvals_per_agent", l.PendingPerAgent)
		}
	}
	return l
}

// positive reads a whole number of at least 1, or reports it and keeps def.
func (d *decoder) positive(n ast.Node, what string, def int) int {
	v, ok := d.integer(n, what)
	if !ok {
		return def
	}
	if v < 1 || v > maxBurst {
		d.errorf(n, "%s must be between 1 and %d, got %d", what, maxBurst, v)
		return def
	}
	return int(v)
}

// budgets reads an agent's budgets list.
func (d *decoder) budgets(n ast.Node, what string) []Budget {
	items, ok := d.list(n, what)
	if !ok {
		return nil
	}
	var out []Budget
	for i, it := range items {
		w := fmt.Sprintf("%s[%d]", what, i)
		if na, null := it.(nilAt); null {
			d.errorf(na.Node, "%s is empty", w)
			continue
		}
		fields, ok := d.mapping(it, w, "tools", "max", "per")
		if !ok {
			continue
		}
		var b Budget
		for _, f := range fields {
			if f.val == nil {
				continue // reported below as missing
			}
			switch f.name {
			case "tools":
				if p, ok := d.nonEmpty(f.val, w+".tools"); ok {
					if _, err := path.Match(p, ""); err != nil {
						d.errorf(f.val, "%s.tools %q is not a valid glob pattern (path.Match syntax: * ? [a-z] \\)", w, p)
					}
					b.Tools = p
				}
			case "max":
				b.Max = d.positive(f.val, w+".max", 0)
			case "per":
				b.Per, _ = d.duration(f.val, w+".per")
			}
		}
		if b.Tools == "" || b.Max == 0 || b.Per == 0 {
			d.errorf(it, "%s needs tools (a pattern), max (calls, >= 1) and per (a window), e.g. {tools: issue_refund, max: 20, per: 24h}", w)
			continue
		}
		out = append(out, b)
	}
	return out
}
