package supervisor

import (
	"context"
	"fmt"
	"maps"
	"time"

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
