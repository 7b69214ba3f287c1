package supervisor

import (
	"context"
	"fmt"
	"maps"
	"time"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
)

// loadSuspensions reads which agents an admin suspended: a suspension
// outlives restarts.
func (s *Supervisor) loadSuspensions(ctx context.Context) error {
	recs, err := s.store.AgentRecords(ctx)
	if err != nil {
		return fmt.Errorf("load agent suspensions: %w", err)
	}
	s.suspended.Store(&recs)
	return nil
}

// suspension returns the record of a suspended agent.
func (s *Supervisor) suspension(agent string) (store.AgentRecord, bool) {
	rec, ok := (*s.suspended.Load())[agent]
	return rec, ok && rec.Suspended
}

// setSuspended suspends or restores an agent's token as rec says (its
// Changed is set here), durably; suspending with kill also kills the
// agent's live sessions. It does not stop halfway when ctx's caller goes
// away.
func (s *Supervisor) setSuspended(ctx context.Context, rec store.AgentRecord, kill bool) (killed int, err error) {
	ctx = context.WithoutCancel(ctx)
	if _, ok := s.agents.Load().byName(rec.Name); !ok {
		return 0, fmt.Errorf("no agent %q: %w", rec.Name, store.ErrNotFound)
	}
	rec.Changed = time.Now()
	s.suspendMu.Lock() // the record and the map change together, one change at a time
	defer s.suspendMu.Unlock()
	if err := s.store.SetAgentSuspended(ctx, rec); err != nil {
		return 0, err
	}
	next := maps.Clone(*s.suspended.Load())
	next[rec.Name] = rec
	s.suspended.Store(&next)
	verb := "restored"
	if rec.Suspended {
		verb = "suspended"
	}
	s.log.Warn("agent "+verb, "agent", rec.Name, "by", rec.By, "reason", rec.Reason)
	if rec.Suspended && kill {
		killed = s.killAgent(ctx, rec.Name, "agent suspended by "+rec.By+": "+rec.Reason, rec.By)
	}
	if rec.Suspended && s.suspendStdio(ctx, rec) {
		killed++
	}
	return killed, nil
}

// suspendedNow returns why a held call of agent must not go ahead after
// its approval: the agent was suspended while the call was held (or after
// it was approved). A shared store refuses such a call too
// (store.ErrAgentSuspended), for a suspension made on another replica
// that this one has not heard of yet.
func (s *Supervisor) suspendedNow(agent string) (string, bool) {
	rec, ok := s.suspension(agent)
	if !ok {
		return "", false
	}
	return "the agent was suspended by " + rec.By + " (" + rec.Reason + ")", true
}

// refuseApproved records ev, the approval of a held call, as refused
// because its agent is suspended, and returns the answer for the agent.
func (c *call) refuseApproved(ctx context.Context, ev store.Event, why string) *mcp.CallToolResult {
	ev.Verdict = warden.Deny.String()
	ev.Reasons = append(ev.Reasons, "refused after approval: "+why)
	if err := c.record(ctx, ev, nil); err != nil {
		c.s.log.Error("cannot record the refused approval", "session", c.sess.id, "err", err)
	}
	c.s.log.Warn("an approved call refused: its agent is suspended", "session", c.sess.id, "agent", c.sess.agent.Name, "tool", c.name)
	return refusal("warden refused this call after its approval: " + why)
}
