package supervisor

import (
	"context"
	"fmt"
	"path"
	"slices"
	"strconv"
	"time"

	"github.com/warden-dev/warden/store"
)

// sharedCounter is a history that counts for every replica (store/postgres's
// Count): with it an agent's rate, session openings and budgets hold
// across replicas instead of per replica. Counts are exact within fixed
// windows cut on the database's clock.
type sharedCounter interface {
	Count(ctx context.Context, key string, per time.Duration, max int) (counted bool, window int64, left time.Duration, err error)
	Uncount(ctx context.Context, key string, window int64) error
}

// counter returns the shared counter when this warden is one replica
// among several, nil when its limits are its own (bbolt, one process).
func (s *Supervisor) counter() sharedCounter {
	c, ok := s.store.(sharedCounter)
	if !ok || !s.replicated() {
		return nil
	}
	return c
}

// sharedUnit is one unit counted in a shared window, to give back.
type sharedUnit struct {
	key    string
	window int64
}

// rateWindow turns a token bucket into the fixed window that replicas
// share: Burst calls per the time the bucket takes to refill, so the
// sustained rate is the same and a burst at most Burst (2×Burst across a
// window's edge).
func rateWindow(r Rate) (time.Duration, int) {
	per := time.Duration(float64(r.Burst) * float64(time.Minute) / r.PerMinute)
	return max(per, time.Millisecond), r.Burst
}

// takeShared counts one unit of key in its shared window. A store error
// is returned (the caller refuses: fail closed); over the limit,
// counted is false and left says when the window ends.
func takeShared(ctx context.Context, c sharedCounter, key string, per time.Duration, limit int) (u sharedUnit, counted bool, left time.Duration, err error) {
	counted, w, left, err := c.Count(ctx, key, per, limit)
	if err != nil {
		return sharedUnit{}, false, 0, fmt.Errorf("the limit is shared by the replicas and could not be counted in the store: %w", err)
	}
	return sharedUnit{key: key, window: w}, counted, left, nil
}

// giveBack returns units counted for a call that did not go ahead; a
// failure only leaves the unit spent (the limit errs on the safe side).
func (s *Supervisor) giveBack(ctx context.Context, c sharedCounter, units []sharedUnit) {
	for _, u := range units {
		if err := c.Uncount(ctx, u.key, u.window); err != nil {
			s.log.Warn("cannot give back a unit of a shared limit; it stays spent until its window ends", "err", err)
		}
	}
}

// paceShared fits a call into its agent's rate as all replicas count
// it: beyond the window's limit the call waits for the next window, up
// to maxDelay in all, else it is refused with when to retry. undo gives
// the unit back when the call goes no further.
func (s *Supervisor) paceShared(ctx context.Context, c sharedCounter, agent string, maxDelay time.Duration) (waited time.Duration, undo func(context.Context), err error) {
	r := s.throttle.Load().agent
	if !r.set() {
		return 0, func(context.Context) {}, nil
	}
	per, limit := rateWindow(r)
	for {
		u, ok, left, err := takeShared(ctx, c, "rate\x00"+agent, per, limit)
		switch {
		case err != nil:
			return 0, nil, fmt.Errorf("rate limit: %w", err)
		case ok:
			return waited, func(ctx context.Context) { s.giveBack(ctx, c, []sharedUnit{u}) }, nil
		case waited+left > maxDelay:
			return 0, nil, fmt.Errorf("rate limit exceeded (across replicas); retry after %s", left.Round(100*time.Millisecond))
		case !sleepCtx(ctx, left):
			return 0, nil, ctx.Err()
		}
		waited += left
	}
}

// admitShared counts a session opening against the agent's rate of
// openings as all replicas count it; it returns why not, if not.
func (s *Supervisor) admitShared(ctx context.Context, c sharedCounter, agent string, r Rate) string {
	per, limit := rateWindow(r)
	_, ok, _, err := takeShared(ctx, c, "initialize\x00"+agent, per, limit)
	switch {
	case err != nil:
		return fmt.Sprintf("agent %q cannot open a session now: the rate of its openings: %v", agent, err)
	case !ok:
		return fmt.Sprintf("agent %q opens sessions faster than its limit (%d per %s across replicas)", agent, limit, per)
	}
	return ""
}

// spendShared takes a unit of each of the agent's budgets that covers
// tool, as all replicas count them, or says which one is spent (or that
// counting failed: the call is then refused too).
func (s *Supervisor) spendShared(ctx context.Context, c sharedCounter, agent, tool string) (*budgetSpend, error) {
	s.limits.mu.Lock()
	budgets := slices.Clone(s.limits.cfg.Budgets[agent])
	s.limits.mu.Unlock()
	sp := &budgetSpend{shared: c, s: s}
	for _, b := range budgets {
		if ok, _ := path.Match(b.Tools, tool); !ok {
			continue
		}
		// The key names the window's length, not Max: a reload that
		// changes only Max keeps the calls already counted.
		key := "budget\x00" + agent + "\x00" + b.Tools + "\x00" + strconv.FormatInt(int64(b.Per), 10)
		u, ok, left, err := takeShared(ctx, c, key, b.Per, b.Max)
		if err == nil && !ok {
			err = fmt.Errorf("%d calls of %s per %s, across sessions and replicas, are used; the next is possible in %s",
				b.Max, b.Tools, b.Per, left.Round(time.Second))
		}
		if err != nil {
			sp.settle(ctx)
			return nil, fmt.Errorf("agent budget: %w", err)
		}
		sp.units = append(sp.units, u)
	}
	return sp, nil
}

// pendingCapper is a history that caps an agent's pending approvals for
// every replica, in the write that records one (store/postgres's
// CreateApprovalWithin); its error then wraps store.ErrOverLimit.
type pendingCapper interface {
	CreateApprovalWithin(ctx context.Context, a store.Approval, perAgent int) error
}

// pendingCapper returns the store that caps pending approvals across
// replicas, nil when this warden counts its own (bbolt, one process).
func (s *Supervisor) pendingCapper() pendingCapper {
	c, ok := s.store.(pendingCapper)
	if !ok || !s.replicated() {
		return nil
	}
	return c
}

// createApproval records a held call's approval; among replicas, within
// its agent's cap on pending approvals as all replicas hold them.
func (s *Supervisor) createApproval(ctx context.Context, a store.Approval) error {
	s.limits.mu.Lock()
	perAgent := s.limits.cfg.PendingPerAgent
	s.limits.mu.Unlock()
	if c := s.pendingCapper(); c != nil && perAgent > 0 {
		return c.CreateApprovalWithin(ctx, a, perAgent)
	}
	return s.store.CreateApproval(ctx, a)
}
