package supervisor

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"golang.org/x/time/rate"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
)

// Limits bound what one authenticated agent can make warden hold, so that
// an agent that floods (a prompt-injected one with a valid token) cannot
// exhaust warden or its approvers, nor reset a budget by starting over.
// A zero field means no limit; the configuration gives each a default.
type Limits struct {
	// SessionsPerAgent caps an agent's live sessions; an initialize beyond
	// it is refused (429) until one ends.
	SessionsPerAgent int
	// Initialize is a token bucket on an agent's requests that open a
	// session (POSTs without a session id); beyond it they are refused (429).
	Initialize Rate
	// PendingPerSession and PendingPerAgent cap the approvals that calls
	// wait on; a call that would step up beyond either is refused, not
	// queued for a human.
	PendingPerSession, PendingPerAgent int
	// Budgets are each agent's budgets across its sessions, by agent name.
	Budgets map[string][]Budget
}

// Budget is a cap on an agent's calls of some tools in a sliding window,
// across all its sessions: re-initialising does not reset it, and neither
// does a restart (the counts are taken from history at Start). Only calls
// that go ahead count; a call over the budget is refused (deny).
type Budget struct {
	Tools string        // a path.Match pattern over exposed tool names
	Max   int           // calls allowed in any window of Per
	Per   time.Duration // the window
}

// limits is the Supervisor's state for Limits.
type limits struct {
	cfg Limits

	mu           sync.Mutex
	initializing map[string]int // initialize requests in flight, by agent
	initRate     map[string]*rate.Limiter
	pending      map[string]int // approvals held, by agent and by "session\x00"+id
	spent        map[string][]*budgetUse
}

func newLimits(cfg Limits) *limits {
	return &limits{cfg: cfg, initializing: map[string]int{}, initRate: map[string]*rate.Limiter{},
		pending: map[string]int{}, spent: map[string][]*budgetUse{}}
}

// admitSession decides whether agent may open another session now. On
// admission release must be called when the opening request is over (the
// session, if it opened, is then counted as live).
func (s *Supervisor) admitSession(agent string) (release func(), refused string) {
	l := s.limits
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.cfg.Initialize; r.set() {
		lim, ok := l.initRate[agent]
		if !ok {
			lim = newLimiter(r)
			l.initRate[agent] = lim
		}
		if !lim.Allow() {
			return nil, fmt.Sprintf("agent %q opens sessions faster than its limit (%g a minute, %d at once)", agent, r.PerMinute, r.Burst)
		}
	}
	if limit := l.cfg.SessionsPerAgent; limit > 0 {
		if n := s.sessions.countOf(agent) + l.initializing[agent]; n >= limit {
			return nil, fmt.Sprintf("agent %q has %d live sessions, its limit; end one first", agent, n)
		}
	}
	l.initializing[agent]++
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		if l.initializing[agent]--; l.initializing[agent] <= 0 {
			delete(l.initializing, agent)
		}
	}), ""
}

// countOf is the number of live sessions of agent.
func (s *sessions) countOf(agent string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for _, sess := range s.live {
		if sess.agent.Name == agent {
			n++
		}
	}
	return n
}

// reservePending takes a place among the approvals a session and its agent
// may have pending, for a call about to be held. Over either cap the call
// is refused and the refusal recorded: the answer for the agent is
// returned. Otherwise release gives the place back once the call is no
// longer held.
func (c *call) reservePending(ctx context.Context) (release func(), refused *mcp.CallToolResult) {
	l, sess := c.s.limits, c.sess
	agent, key := sess.agent.Name, "session\x00"+sess.id
	l.mu.Lock()
	var why string
	switch {
	case l.cfg.PendingPerSession > 0 && l.pending[key] >= l.cfg.PendingPerSession:
		why = fmt.Sprintf("the session already has %d calls waiting for an approver, its limit", l.pending[key])
	case l.cfg.PendingPerAgent > 0 && l.pending[agent] >= l.cfg.PendingPerAgent:
		why = fmt.Sprintf("agent %q already has %d calls waiting for an approver, its limit", agent, l.pending[agent])
	default:
		l.pending[key]++
		l.pending[agent]++
	}
	l.mu.Unlock()
	if why != "" {
		ev := c.event(store.KindSignal)
		ev.Verdict, ev.Reasons = warden.Deny.String(), []string{"not held for an approver: " + why}
		if err := c.record(ctx, ev, nil); err != nil {
			c.s.log.Error("cannot record a refusal over the pending approvals limit", "session", sess.id, "err", err)
		}
		c.s.log.Warn("call refused: too many pending approvals", "session", sess.id, "agent", agent, "tool", c.name, "why", why)
		return nil, refusal("warden refused this call (step_up): it was not held for an approver: " + why)
	}
	return sync.OnceFunc(func() {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, k := range []string{key, agent} {
			if l.pending[k]--; l.pending[k] <= 0 {
				delete(l.pending, k)
			}
		}
	}), nil
}

// budgetUse is one budget of an agent and when the calls that count
// against it were made (at most Max of them are kept).
type budgetUse struct {
	b     Budget
	times []time.Time
}

// budgetSpend is one call's unit of every budget it falls under: kept
// when the call goes ahead, given back otherwise.
type budgetSpend struct {
	l     *limits
	uses  []*budgetUse
	at    time.Time
	kept  bool
	freed bool
}

// spendBudget takes a unit of each of the agent's budgets that covers
// tool, or says which one is spent. The caller must keep or settle it.
func (s *Supervisor) spendBudget(agent, tool string) (*budgetSpend, error) {
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
func (sp *budgetSpend) settle() {
	if sp == nil || sp.kept || sp.freed {
		return
	}
	sp.freed = true
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
// its agents' budgets either.
func (s *Supervisor) loadBudgets(ctx context.Context) error {
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
// upstream: decided allow, flag or throttle, or approved by an approver.
func wentAhead(e store.Event) bool {
	switch e.Kind {
	case store.KindCall:
		v, err := warden.ParseVerdict(e.Verdict)
		return err == nil && v <= warden.Throttle
	case store.KindApproval:
		return e.Verdict == store.ApprovalApproved
	}
	return false
}
