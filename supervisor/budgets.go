package supervisor

import (
	"context"
	"fmt"
	"path"
	"slices"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
)

// budgetUse is one budget of an agent and when the calls that count
// against it were made (at most Max of them are kept).
type budgetUse struct {
	b     Budget
	times []time.Time
}

// budgetSpend is one call's unit of every budget it falls under: kept
// when the call goes ahead, given back otherwise. Its units are in
// memory (uses), or in the store that replicas share (units).
type budgetSpend struct {
	l     *limits
	uses  []*budgetUse
	at    time.Time
	kept  bool
	freed bool

	s      *Supervisor
	shared sharedCounter
	units  []sharedUnit
}

// spendBudget takes a unit of each of the agent's budgets that covers
// tool, or says which one is spent. The caller must keep or settle it.
func (s *Supervisor) spendBudget(ctx context.Context, agent, tool string) (*budgetSpend, error) {
	if c := s.counter(); c != nil {
		return s.spendShared(ctx, c, agent, tool)
	}
	l := s.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now() // under mu: a budget's times stay in order
	uses := l.usesOf(agent)
	sp := &budgetSpend{l: l, at: now}
	for _, u := range uses {
		if ok, _ := path.Match(u.b.Tools, tool); !ok {
			continue
		}
		u.prune(now)
		if len(u.times) >= u.b.Max {
			return nil, fmt.Errorf("agent budget: %d calls of %s per %s, across sessions, are used; the next is possible in %s",
				u.b.Max, u.b.Tools, u.b.Per, u.times[0].Add(u.b.Per).Sub(now).Round(time.Second))
		}
		sp.uses = append(sp.uses, u)
	}
	for _, u := range sp.uses {
		u.times = append(u.times, now)
	}
	return sp, nil
}

// usesOf returns agent's budgets; the caller holds l.mu.
func (l *limits) usesOf(agent string) []*budgetUse {
	uses, ok := l.spent[agent]
	if !ok {
		for _, b := range l.cfg.Budgets[agent] {
			uses = append(uses, &budgetUse{b: b})
		}
		l.spent[agent] = uses
	}
	return uses
}

// prune forgets calls older than the window.
func (u *budgetUse) prune(now time.Time) {
	i := 0
	for i < len(u.times) && !u.times[i].After(now.Add(-u.b.Per)) {
		i++
	}
	u.times = u.times[i:]
}

// keep counts the call: it went ahead.
func (sp *budgetSpend) keep() {
	if sp != nil {
		sp.kept = true
	}
}

// settle gives the unit back unless the call went ahead.
func (sp *budgetSpend) settle(ctx context.Context) {
	if sp == nil || sp.kept || sp.freed {
		return
	}
	sp.freed = true
	if sp.shared != nil {
		sp.s.giveBack(ctx, sp.shared, sp.units)
		return
	}
	sp.l.mu.Lock()
	defer sp.l.mu.Unlock()
	for _, u := range sp.uses {
		for i := len(u.times) - 1; i >= 0; i-- {
			if u.times[i].Equal(sp.at) {
				u.times = append(u.times[:i], u.times[i+1:]...)
				break
			}
		}
	}
}

// loadBudgets counts, from history, the calls that went ahead within
// each agent's budget windows, so that a restart of warden does not reset
// its agents' budgets either. Replicas count them in the store instead.
func (s *Supervisor) loadBudgets(ctx context.Context) error {
	if s.counter() != nil {
		return nil
	}
	l := s.limits
	now := time.Now()
	for agent, budgets := range l.cfg.Budgets {
		var window time.Duration
		for _, b := range budgets {
			window = max(window, b.Per)
		}
		recs, err := s.store.Sessions(ctx, store.Filter{Agent: agent})
		if err != nil {
			return fmt.Errorf("load the budgets of agent %s: %w", agent, err)
		}
		var calls []store.Event
		for _, rec := range recs {
			if rec.LastSeen.Before(now.Add(-window)) {
				continue
			}
			evs, err := s.store.Events(ctx, rec.ID)
			if err != nil {
				return fmt.Errorf("load the budgets of agent %s: session %s: %w", agent, rec.ID, err)
			}
			for _, e := range evs {
				if wentAhead(e) && e.Time.After(now.Add(-window)) {
					calls = append(calls, e)
				}
			}
		}
		slices.SortFunc(calls, func(a, b store.Event) int { return a.Time.Compare(b.Time) })
		l.mu.Lock()
		for _, u := range l.usesOf(agent) {
			for _, e := range calls {
				if ok, _ := path.Match(u.b.Tools, e.Tool); ok {
					u.times = append(u.times, e.Time)
				}
			}
			u.prune(now)
		}
		l.mu.Unlock()
	}
	return nil
}

// wentAhead reports whether an event records a call that went to its
// upstream: decided allow, flag or throttle (and not refused over a rate),
// or approved by an approver.
func wentAhead(e store.Event) bool {
	switch e.Kind {
	case store.KindCall:
		v, err := warden.ParseVerdict(e.Verdict)
		return err == nil && v <= warden.Throttle && !wasRefused(e)
	case store.KindApproval:
		return e.Verdict == store.ApprovalApproved
	}
	return false
}
