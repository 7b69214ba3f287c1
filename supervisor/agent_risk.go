package supervisor

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/warden-dev/warden/workflows"
)

// An agent's sessions share one identity: evidence seen on one of them
// (its token reused, its address moved, a burst) weighs on the others
// too, at Escalation.AgentShare of its weight (default half), and on the
// agent's sessions that start while it has not decayed. Each such shared
// signal is recorded on the session it weighs on, as "agent:<name>", so
// that every session's risk stays a function of its own chain.

// DefaultAgentShare is the part of a signal's weight that the agent's
// other sessions carry.
const DefaultAgentShare = 0.5

// agentSignalPrefix names a signal shared from another session of the agent.
const agentSignalPrefix = "agent:"

// agentRisk keeps each agent's recent shared signals, for its sessions
// that start later.
type agentRisk struct {
	mu sync.Mutex
	by map[string][]sharedSignal
}

// sharedSignal is an agent's part of a signal, and the session it was
// seen on (which carries the whole of it already).
type sharedSignal struct {
	from string
	sig  workflows.Signal
}

// share returns the agent's part of a signal seen on session from, or
// false when it has none (no weight, sharing off, or already shared).
func (e Escalation) share(from *session, sig workflows.Signal) (workflows.Signal, bool) {
	part := e.AgentShare
	if part == 0 {
		part = DefaultAgentShare
	}
	if part < 0 || sig.Weight <= 0 || strings.HasPrefix(sig.Name, agentSignalPrefix) {
		return workflows.Signal{}, false
	}
	return workflows.Signal{Name: agentSignalPrefix + sig.Name, Weight: sig.Weight * part, At: sig.At,
		Evidence: fmt.Sprintf("on agent %s's session %s: %s", from.agent.Name, from.id, sig.Evidence)}, true
}

// shareSignal gives the agent's other live sessions, and those it starts
// while the signal lasts, their part of a signal seen on from.
func (s *Supervisor) shareSignal(ctx context.Context, from *session, sig workflows.Signal) {
	shared, ok := s.esc.share(from, sig)
	if !ok {
		return
	}
	s.agentRisk.mu.Lock()
	if s.agentRisk.by == nil {
		s.agentRisk.by = map[string][]sharedSignal{}
	}
	list := append(s.agentRisk.by[from.agent.Name], sharedSignal{from.id, shared})
	if len(list) > 32 {
		list = list[len(list)-32:]
	}
	s.agentRisk.by[from.agent.Name] = list
	s.agentRisk.mu.Unlock()
	for _, other := range s.sessions.all() {
		if other == from || other.agent.Name != from.agent.Name {
			continue
		}
		if err := s.recordSignal(ctx, other, shared, []string{shared.Evidence}, "", false, nil); err != nil {
			s.log.Error("cannot record a shared signal", "session", other.id, "err", err)
		}
	}
}

// inheritSignals gives a new session of an agent the shared signals of
// its other sessions that still weigh (at least 1 after decay).
func (s *Supervisor) inheritSignals(ctx context.Context, sess *session) {
	s.agentRisk.mu.Lock()
	list := append([]sharedSignal(nil), s.agentRisk.by[sess.agent.Name]...)
	s.agentRisk.mu.Unlock()
	sess.mu.Lock()
	half := sess.state.HalfLife
	sess.mu.Unlock()
	now := time.Now()
	for _, sh := range list {
		sig := sh.sig
		if sh.from == sess.id || (workflows.State{Signals: []workflows.Signal{sig}}).Risk(now, half) < 1 {
			continue // its own signal, or one that no longer weighs
		}
		if err := s.recordSignal(ctx, sess, sig, []string{sig.Evidence}, "", false, nil); err != nil {
			s.log.Error("cannot record a shared signal", "session", sess.id, "err", err)
		}
	}
}
