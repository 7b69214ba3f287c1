package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/warden-dev/warden/store"
)

// changeFeed is a history shared by replicas that reports what any of
// them commits (store/postgres's Watch): kills and ends of sessions,
// approval decisions, suspensions. Each replica acts on them for what it
// holds in memory: the held call, the call in flight, the agent's token.
type changeFeed interface {
	Watch(ctx context.Context, poll time.Duration, fn func(kind, subject string)) error
}

// changesPoll bounds how late a change comes when its notification was
// missed.
const changesPoll = 2 * time.Second

// The kinds of change a changeFeed reports (store/postgres's).
const (
	changeSession  = "session"
	changeApproval = "approval"
	changeAgent    = "agent"
)

// replicated reports whether this warden is one replica among several
// on a shared history.
func (s *Supervisor) replicated() bool {
	_, ok := s.store.(leaser)
	return ok
}

// watchReplicas acts on the changes other replicas commit, until the
// Supervisor closes.
func (s *Supervisor) watchReplicas() {
	feed, ok := s.store.(changeFeed)
	if !ok || !s.replicated() {
		return
	}
	s.bg.spawn(func(ctx context.Context) {
		for ctx.Err() == nil {
			err := feed.Watch(ctx, changesPoll, func(kind, subject string) { s.onChange(ctx, kind, subject) })
			if ctx.Err() != nil {
				return
			}
			s.log.Error("cannot watch the other replicas' changes; retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(changesPoll):
			}
		}
	})
}

// onChange applies one change committed by some replica (this one
// included: applying it again does nothing).
func (s *Supervisor) onChange(ctx context.Context, kind, subject string) {
	switch kind {
	case changeApproval:
		// A decision made on another replica releases the call held here.
		if a, err := s.store.Approval(ctx, subject); err == nil && a.State != store.ApprovalPending {
			s.waiting.deliver(a)
		}
	case changeSession:
		if sess := s.sessions.get(subject); sess != nil && sess.id == subject {
			if rec, err := s.store.Session(ctx, subject); err == nil && rec.State != store.StateActive {
				s.endedElsewhere(ctx, sess, rec)
			}
		}
	case changePolicy:
		s.policyAnnounced(subject)
	case changeAgent:
		s.suspendMu.Lock()
		defer s.suspendMu.Unlock()
		if err := s.loadSuspensions(ctx); err != nil {
			s.log.Error("cannot reload suspensions changed on another replica", "err", err)
		}
	}
}

// endedElsewhere stops this replica's copy of a session that another
// replica killed or ended, and recorded: the approvals its calls wait on
// are denied, its calls in flight cancelled, its id refused from now on.
// Nothing is recorded here: the replica that ended it did.
func (s *Supervisor) endedElsewhere(ctx context.Context, sess *session, rec store.Session) {
	st, already := sess.stop(rec.State == store.StateKilled)
	s.sessions.end(sess.key)
	if already {
		return
	}
	s.release(ctx, sess, st, "warden: session "+rec.State+" on another replica",
		fmt.Errorf("%w: the session was %s on another replica: %s", errCancelledByWarden, rec.State, rec.Reason))
	s.hub.Release(sess.who(), "the agent session was "+rec.State+" on another replica")
	s.log.Warn("session "+rec.State+" on another replica", "session", sess.id, "agent", sess.agent.Name, "reason", rec.Reason)
	s.bg.spawn(func(ctx context.Context) { s.closeTransport(ctx, sess.key) })
}
