package supervisor

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// limiters are the token buckets of agents (across their sessions); each
// session carries its own.
type limiters struct {
	mu      sync.Mutex
	byAgent map[string]*rate.Limiter
}

// throttles are the rates in force. A reload replaces them whole, and the
// buckets already filled keep their tokens (see retune).
type throttles struct {
	session, agent Rate
	perAgent       map[string]Rate // agents' own session rates
	maxDelay       time.Duration
}

func throttlesOf(e Escalation) *throttles {
	return &throttles{session: e.SessionRate, agent: e.AgentRate, perAgent: e.AgentSessionRate, maxDelay: e.MaxDelay}
}

func newLimiter(r Rate) *rate.Limiter {
	if !r.set() {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r.PerMinute/60), r.Burst)
}

// sessionRate is the rate that applies to a session of agent: its
// workflow's, else the agent's, else the default.
func (s *Supervisor) sessionRate(agent string) Rate {
	if wf := s.policyFor(agent).Workflow; wf != nil {
		if pm, burst, ok := wf.Throttle(); ok {
			return Rate{PerMinute: pm, Burst: burst}
		}
	}
	th := s.throttle.Load()
	if r, ok := th.perAgent[agent]; ok && r.set() {
		return r
	}
	return th.session
}

func (s *Supervisor) agentLimiter(agent string) *rate.Limiter {
	r := s.throttle.Load().agent
	if !r.set() || s.counter() != nil { // replicas count it in the store (paceShared)
		return nil
	}
	s.lim.mu.Lock()
	defer s.lim.mu.Unlock()
	l, ok := s.lim.byAgent[agent]
	if !ok {
		l = newLimiter(r)
		s.lim.byAgent[agent] = l
	}
	return l
}

// pace fits a call into its session's and its agent's rates: it returns
// how long the call was held back (zero when within the rate), or an
// error saying when to retry when fitting would take longer than MaxDelay
// (the call then uses no tokens). Among replicas the agent's rate is
// counted in the store, first; the session's stays with the replica that
// serves the session.
func (s *Supervisor) pace(ctx context.Context, sess *session) (time.Duration, error) {
	maxDelay := s.throttle.Load().maxDelay
	c := s.counter()
	if c == nil {
		return s.paceLocal(ctx, sess, maxDelay)
	}
	shared, undo, err := s.paceShared(ctx, c, sess.agent.Name, maxDelay)
	if err != nil {
		return 0, err
	}
	wait, err := s.paceLocal(ctx, sess, maxDelay-shared)
	if err != nil {
		undo(context.WithoutCancel(ctx))
		return 0, err
	}
	return shared + wait, nil
}

// paceLocal is pace on the token buckets in this process's memory.
func (s *Supervisor) paceLocal(ctx context.Context, sess *session, maxDelay time.Duration) (time.Duration, error) {
	var res []*rate.Reservation
	now := time.Now()
	for _, l := range []*rate.Limiter{sess.limiter.Load(), s.agentLimiter(sess.agent.Name)} {
		if l != nil {
			res = append(res, l.ReserveN(now, 1))
		}
	}
	var wait time.Duration
	for _, r := range res {
		if !r.OK() {
			wait = rate.InfDuration
			break
		}
		wait = max(wait, r.DelayFrom(now))
	}
	if wait > maxDelay {
		for _, r := range res {
			r.CancelAt(now)
		}
		if wait == rate.InfDuration {
			return 0, fmt.Errorf("rate limit exceeded")
		}
		return 0, fmt.Errorf("rate limit exceeded; retry after %s", wait.Round(100*time.Millisecond))
	}
	if wait > 0 && !sleepCtx(ctx, wait) {
		for _, r := range res {
			r.CancelAt(now)
		}
		return 0, ctx.Err()
	}
	return wait, nil
}

// sleepCtx waits d or until ctx ends; it reports whether it waited all of d.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
