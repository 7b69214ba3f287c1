package supervisor

import (
	"context"
	"fmt"
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
// that go ahead count; a call over the budget is refused (deny). Among
// replicas the window is fixed and counted in the store (sharedlimits.go).
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
func (s *Supervisor) admitSession(ctx context.Context, agent string) (release func(), refused string) {
	l := s.limits
	if c := s.counter(); c != nil {
		l.mu.Lock()
		r := l.cfg.Initialize
		l.mu.Unlock()
		if r.set() {
			if why := s.admitShared(ctx, c, agent, r); why != "" {
				return nil, why
			}
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if r := l.cfg.Initialize; r.set() && s.counter() == nil {
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

// notHeld records and answers a call refused rather than held for an
// approver, over a limit on pending approvals (why).
func (c *call) notHeld(ctx context.Context, why string) *mcp.CallToolResult {
	ev := c.event(store.KindSignal)
	ev.Verdict, ev.Reasons = warden.Deny.String(), []string{"not held for an approver: " + why}
	if err := c.record(ctx, ev, nil); err != nil {
		c.s.log.Error("cannot record a refusal over the pending approvals limit", "session", c.sess.id, "err", err)
	}
	c.s.log.Warn("call refused: too many pending approvals", "session", c.sess.id, "agent", c.sess.agent.Name, "tool", c.name, "why", why)
	return refusal("warden refused this call (step_up): it was not held for an approver: " + why)
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
	case l.cfg.PendingPerAgent > 0 && l.pending[agent] >= l.cfg.PendingPerAgent && c.s.pendingCapper() == nil:
		why = fmt.Sprintf("agent %q already has %d calls waiting for an approver, its limit", agent, l.pending[agent])
	default:
		l.pending[key]++
		l.pending[agent]++
	}
	l.mu.Unlock()
	if why != "" {
		return nil, c.notHeld(ctx, why)
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
