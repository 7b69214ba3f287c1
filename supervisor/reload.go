package supervisor

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/time/rate"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/tools"
)

// Reloaded is what a configuration reload changes while sessions run: the
// agents (their tokens and what they may see), their policies, the rates,
// the limits, the admin token and the upstreams. Everything else a
// Supervisor was built with stays.
type Reloaded struct {
	Agents   []Agent
	Policies map[string]*Policy
	// Escalation gives the rates: SessionRate, AgentRate, AgentSessionRate
	// and MaxDelay; its other fields are not reloaded.
	Escalation Escalation
	Limits     Limits
	// AdminTokenSHA256 replaces the admin API's token when set.
	AdminTokenSHA256 string
	// Upstreams replace the hub's upstreams unless nil (see
	// tools.Hub.SetUpstreams).
	Upstreams []tools.Spec
}

// Reload applies a new configuration to a running supervisor, whole or not
// at all (an invalid agent list changes nothing). The live sessions of an
// agent that is gone, or whose token changed, are ended on record and
// their transport closed, so that the old token opens nothing any more;
// the other sessions carry on under the new definition of their agent and
// its policy. Rates and budgets take their new values at the next call
// without losing what was spent: a reload is no way to reset a limit. It
// returns how many sessions it ended.
func (s *Supervisor) Reload(ctx context.Context, r Reloaded) (ended int, err error) {
	s.reloadMu.Lock()
	defer s.reloadMu.Unlock()
	ag, err := newAgents(r.Agents)
	if err != nil {
		return 0, fmt.Errorf("reload: %w", err)
	}
	var admin *[32]byte
	if r.AdminTokenSHA256 != "" {
		if admin, err = adminHash(r.AdminTokenSHA256); err != nil {
			return 0, fmt.Errorf("reload: %w", err)
		}
	}
	if r.Upstreams != nil {
		// Checked before anything else applies; it waits for the added
		// upstreams' first attempt, so their tools are offered on return.
		ch, err := s.hub.SetUpstreams(ctx, r.Upstreams)
		if err != nil {
			return 0, fmt.Errorf("reload: %w", err)
		}
		if len(ch.Added)+len(ch.Replaced)+len(ch.Removed) > 0 {
			s.log.Info("upstreams changed by reload", "added", ch.Added, "replaced", ch.Replaced, "removed", ch.Removed)
		}
	}
	esc := s.esc
	esc.SessionRate, esc.AgentRate, esc.AgentSessionRate, esc.MaxDelay = r.Escalation.SessionRate, r.Escalation.AgentRate, r.Escalation.AgentSessionRate, r.Escalation.MaxDelay
	esc.defaults()
	ctx = context.WithoutCancel(ctx)
	s.agents.Store(ag)
	if admin != nil {
		s.admin.Store(admin)
	}
	s.throttle.Store(throttlesOf(esc))
	s.limits.retune(r.Limits)
	s.retuneAgents()
	s.SetPolicies(r.Policies)
	for _, sess := range s.sessions.all() {
		if s.reconcile(ctx, sess) {
			ended++
		}
	}
	return ended, nil
}

// reconcile brings a live session in line with the agents in force: it
// ends the session of an agent that is gone or whose token changed, and
// reports that; otherwise the session sees its agent as now defined and
// paces its calls at the agent's current rate.
func (s *Supervisor) reconcile(ctx context.Context, sess *session) bool {
	now, ok := s.agents.Load().byName(sess.agent.Name)
	var why string
	switch {
	case !ok:
		why = "the agent was removed from the configuration"
	case !strings.EqualFold(now.TokenSHA256, sess.agent.TokenSHA256):
		why = "the agent's token was replaced"
	}
	if why != "" {
		s.endForReload(ctx, sess, "ended by a configuration reload: "+why)
		return true
	}
	if now != sess.current() {
		sess.reloaded.Store(now)
	}
	retune(&sess.limiter, s.sessionRate(sess.agent.Name))
	return false
}

// endForReload ends a session whose agent's credentials are no longer
// valid: its held calls are denied, those in flight cancelled, the end is
// recorded with reason (which never holds a token), and its id is
// terminated so later requests on it get 404.
func (s *Supervisor) endForReload(ctx context.Context, sess *session, reason string) {
	s.endSession(ctx, sess, store.StateEnded, reason)
	s.log.Warn("session ended by reload", "session", sess.id, "agent", sess.agent.Name, "reason", reason)
	if sess.key == stdioSessionKey {
		s.stopStdio(fmt.Errorf("%s", reason))
		return
	}
	_, _ = s.sessions.Terminate(sess.key)
	s.bg.spawn(func(ctx context.Context) { s.closeTransport(ctx, sess.key) })
}

// current is the session's agent as the configuration defines it now (a
// reload may have changed what it may see); its name and token are those
// the session opened with.
func (s *session) current() *Agent {
	if a := s.reloaded.Load(); a != nil {
		return a
	}
	return s.agent
}

// retuneAgents sets the agents' shared buckets to the agent rate in force
// (with no rate, there is nothing to keep).
func (s *Supervisor) retuneAgents() {
	r := s.throttle.Load().agent
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	retuneAll(s.lim.byAgent, r)
}

// retuneAll sets every bucket of m to r, or drops them all when r is unset.
func retuneAll(m map[string]*rate.Limiter, r Rate) {
	for k, l := range m {
		if r.set() {
			setRate(l, r)
		} else {
			delete(m, k)
		}
	}
}

// retune sets a session's bucket to r. A bucket keeps the tokens it has
// (calls already made still count); a session without one gets a fresh
// one, and one whose rate is removed loses it.
func retune(p interface {
	Load() *rate.Limiter
	Store(*rate.Limiter)
}, r Rate) {
	l := p.Load()
	switch {
	case !r.set():
		p.Store(nil)
	case l == nil:
		p.Store(newLimiter(r))
	default:
		setRate(l, r)
	}
}

// setRate changes a bucket's rate and burst, keeping its tokens (capped
// at the new burst); r is set.
func setRate(l *rate.Limiter, r Rate) {
	l.SetLimit(rate.Limit(r.PerMinute / 60))
	l.SetBurst(r.Burst)
}

// retune replaces the limits in force. The budgets' spent calls carry over
// to the budget of the same tools, so that a reload does not refill them.
func (l *limits) retune(cfg Limits) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.cfg = cfg
	retuneAll(l.initRate, cfg.Initialize)
	for agent, old := range l.spent {
		uses := make([]*budgetUse, 0, len(cfg.Budgets[agent]))
		for _, b := range cfg.Budgets[agent] {
			u := &budgetUse{b: b}
			if i := slices.IndexFunc(old, func(o *budgetUse) bool { return o.b.Tools == b.Tools }); i >= 0 {
				u.times = slices.Clone(old[i].times)
			}
			uses = append(uses, u)
		}
		l.spent[agent] = uses
	}
}
