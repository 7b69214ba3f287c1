package supervisor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// The operations the operator's surface (package admin) calls: each is
// what a handler needs and no more, so that the call path, sessions and
// escalation stay here.

// ErrInvalid is wrapped by the errors of an operation asked for with
// unusable input (an unknown decision, no one named): the client's fault,
// not warden's.
var ErrInvalid = errors.New("invalid request")

// ErrNoLinks is returned by VerifyLink when decision links are not
// configured.
var ErrNoLinks = errors.New("decision links are not configured")

// Store is the history the supervisor records to.
func (s *Supervisor) Store() store.Store { return s.store }

// Upstreams reports each upstream's health.
func (s *Supervisor) Upstreams() []tools.UpstreamStatus { return s.hub.Status() }

// DecideApproval records a decision on an approval, exactly once, and hands
// it to the held call; by says who decided.
func (s *Supervisor) DecideApproval(ctx context.Context, id, decision, by string) (store.Approval, error) {
	return s.decideApproval(ctx, id, decision, by)
}

// KillSession kills a session by id, live or only on record.
func (s *Supervisor) KillSession(ctx context.Context, id, reason, by string) error {
	return s.killRecorded(ctx, id, reason, by)
}

// KillAgent kills every live session of a configured agent and returns
// how many; an unknown agent is store.ErrNotFound.
func (s *Supervisor) KillAgent(ctx context.Context, name, reason, by string) (int, error) {
	if _, ok := s.agents.Load().byName(name); !ok {
		return 0, fmt.Errorf("no agent %q: %w", name, store.ErrNotFound)
	}
	return s.killAgent(ctx, name, reason, by), nil
}

// SetSuspended suspends or restores an agent as rec says, killing its live
// sessions too when kill is set, and returns how many it killed.
func (s *Supervisor) SetSuspended(ctx context.Context, rec store.AgentRecord, kill bool) (int, error) {
	return s.setSuspended(ctx, rec, kill)
}

// AgentStatus is an agent as the admin API lists it.
type AgentStatus struct {
	Name         string `json:"name"`
	Suspended    bool   `json:"suspended"`
	Reason       string `json:"reason,omitempty"`
	LiveSessions int    `json:"live_sessions"`
}

// Agents lists the configured agents with their suspension and live
// sessions.
func (s *Supervisor) Agents() []AgentStatus {
	live := map[string]int{}
	for _, sess := range s.sessions.all() {
		live[sess.agent.Name]++
	}
	list := s.agents.Load().list
	out := make([]AgentStatus, 0, len(list))
	for _, a := range list {
		rec, suspended := s.suspension(a.Name)
		out = append(out, AgentStatus{Name: a.Name, Suspended: suspended, Reason: rec.Reason, LiveSessions: live[a.Name]})
	}
	return out
}

// ToolStatus is a tool as the admin API lists it.
type ToolStatus struct {
	Name     string `json:"name"` // as agents see it
	Upstream string `json:"upstream"`
	Hash     string `json:"hash"`
	// Changed is set when the definition differs from its pin: calls step
	// up until an admin accepts it.
	Changed bool   `json:"changed"`
	Pinned  string `json:"pinned,omitempty"`
}

// Tools lists the tools agents see, and whether their definition changed
// from its pin.
func (s *Supervisor) Tools() []ToolStatus {
	changed := s.changedTools()
	cat := s.hub.Catalog()
	out := make([]ToolStatus, 0, len(cat.Tools))
	for _, t := range cat.Tools {
		st := ToolStatus{Name: t.Def.Name, Upstream: t.Upstream, Hash: t.Hash}
		if ch, ok := changed[t.Def.Name]; ok {
			st.Changed, st.Pinned = true, ch.pinned
		}
		out = append(out, st)
	}
	return out
}

// AcceptTool accepts a tool's changed definition (re-pins it), recording by.
func (s *Supervisor) AcceptTool(ctx context.Context, name, by string) error {
	return s.acceptTool(ctx, name, by)
}

// VerifyLink checks a decision link's token and returns the approval and
// decision it makes; ErrNoLinks when links are not configured.
func (s *Supervisor) VerifyLink(token string) (approvalID, decision string, err error) {
	if s.links == nil {
		return "", "", ErrNoLinks
	}
	return s.links.verify(token, time.Now())
}
