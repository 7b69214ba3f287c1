package supervisor

import (
	"context"
	"fmt"

	"github.com/warden-dev/warden/store"
)

// leaser is a history that several replicas of warden share
// (store/postgres opened WithReplica): one replica at a time serves a
// session, under its lease, and the store refuses the appends of a
// replica that lost it. A request may land on any replica: it is
// forwarded to the live holder (route.go), and the replica that got it
// takes the lease and resumes the session from the store only when the
// holder is dead, or when the replicas do not route (none advertised).
type leaser interface {
	Acquire(ctx context.Context, session string) (int64, error)
	Holds(ctx context.Context, session string) (bool, error)
}

// takeOver takes the session's lease for this replica. resume calls it
// before it reads the chain, so the chain it reads is the one its appends
// continue: the previous holder's appends are refused from here on.
func (s *Supervisor) takeOver(ctx context.Context, id string) error {
	l, ok := s.store.(leaser)
	if !ok {
		return nil
	}
	if _, routes := s.store.(directory); routes && s.fwd.Load() != nil {
		// front's routing may have taken it over already (directory.TakeOver).
		if held, err := l.Holds(ctx, id); err == nil && held {
			return nil
		}
	}
	if _, err := l.Acquire(ctx, id); err != nil {
		return fmt.Errorf("take the session over from another replica: %w", err)
	}
	return nil
}

// heldHere returns sess when this replica still holds its lease. When
// another replica has taken the session over since, this copy's state is
// stale: it is forgotten (not ended: the session goes on elsewhere) and
// nil is returned, so that the request resumes the session from the
// store. An error reading the lease is returned: the caller refuses.
func (s *Supervisor) heldHere(ctx context.Context, sess *session) (*session, error) {
	l, ok := s.store.(leaser)
	if !ok || sess.id != sess.key { // stdio sessions are this process's own
		return sess, nil
	}
	held, err := l.Holds(ctx, sess.id)
	if err != nil {
		return nil, fmt.Errorf("check this replica's lease of session %s: %w", sess.id, err)
	}
	if held {
		return sess, nil
	}
	s.takenOver(sess)
	return nil, nil
}

// takenOver forgets this replica's copy of a session another replica
// serves now, and releases its upstream sessions.
func (s *Supervisor) takenOver(sess *session) {
	if s.sessions.forget(sess) {
		s.hub.Release(sess.who(), "another warden replica took the session over")
		s.log.Info("session taken over by another replica", "session", sess.id, "agent", sess.agent.Name)
	}
}

// forget drops a live session without ending it, so that it can be
// resumed again; it reports whether sess was the live one.
func (s *sessions) forget(sess *session) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.live[sess.key] != sess {
		return false
	}
	delete(s.live, sess.key)
	return true
}

// takeOverToKill takes the lease of a session another replica may serve,
// so that this replica can record its kill; the replica that served it
// learns of the kill from the change feed, and can append nothing more.
func (s *Supervisor) takeOverToKill(ctx context.Context, id string) error {
	if !s.replicated() {
		return nil
	}
	if _, err := s.store.Session(ctx, id); err != nil {
		return err
	}
	return s.takeOver(ctx, id)
}

// closeTakenOver records, for a session this replica just took over, a
// result for each call the chain has open: the replica that forwarded it
// can no longer record its result (or died), so its outcome is unknown.
func (s *Supervisor) closeTakenOver(ctx context.Context, id string, evs []store.Event) {
	if !s.replicated() {
		return
	}
	why := "interrupted: another warden replica took the session over before the result came back; the upstream may or may not have acted"
	if err := s.closeOpenCalls(context.WithoutCancel(ctx), id, openCalls(evs), why); err != nil {
		s.log.Error("cannot close the calls a previous replica left open", "session", id, "err", err)
	}
}
