package supervisor

import (
	"encoding/json"
	"fmt"
	"maps"
)

// policies is the current policy of every agent, replaced whole on reload.
type policies map[string]*Policy

// policyFor returns an agent's policy. An agent with none is decided by
// nothing but tool visibility (every visible call is allowed).
func (s *Supervisor) policyFor(agent string) *Policy {
	if p := (*s.policies.Load())[agent]; p != nil {
		return p
	}
	return &s.noPolicy
}

// SetPolicies replaces every agent's policy at once (hot reload). Live
// sessions keep their state where their steps still exist in the new
// workflow. Agents missing from ps lose their policy.
func (s *Supervisor) SetPolicies(ps map[string]*Policy) {
	next := policies(maps.Clone(ps))
	if next == nil {
		next = policies{}
	}
	s.policies.Store(&next)
	for _, sess := range s.sessions.all() {
		p := s.policyFor(sess.agent.Name)
		sess.decideMu.Lock() // not under a decision made with the old policy
		sess.mu.Lock()
		sess.state = p.Workflow.Resume(sess.state)
		sess.mu.Unlock()
		sess.decideMu.Unlock()
	}
	s.log.Info("policies loaded", "agents", len(next))
}

func encodeState(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode session state: %w", err)
	}
	return b, nil
}
