package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/warden-dev/warden/store"
	"github.com/warden-dev/warden/workflows"
)

// resume brings back a session that a previous run of warden left live,
// when its agent comes back with its id: the session continues from its
// recorded workflow state (carried over to the current workflow), so a
// restart interrupts no one's work. Only an active session of the same
// agent that has not been idle longer than the idle TTL is resumed;
// anything else stays unknown (404), as before. A session whose recorded
// state is not the one its history commits to is not trusted: it is
// killed on record, and the error says why.
func (s *Supervisor) resume(ctx context.Context, id string, ident identity) (*session, error) {
	if id == "" || id == stdioSessionKey {
		return nil, nil
	}
	unlock, err := s.resuming.lock(ctx, id)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if live := s.sessions.get(id); live != nil {
		return live, nil // a concurrent request of the session resumed it
	}
	rec, err := s.store.Session(ctx, id)
	if err != nil || rec.State != store.StateActive || rec.Agent != ident.agent.Name {
		return nil, nil
	}
	if time.Since(rec.LastSeen) > s.opts.IdleTTL {
		return nil, nil
	}
	if err := s.takeOver(ctx, id); err != nil {
		return nil, err
	}
	// The history, not just the record, must say it is live.
	evs, err := s.store.Events(ctx, id)
	if err != nil {
		return nil, nil
	}
	if _, _, ended := endedOnRecord(evs); ended {
		return nil, nil
	}
	if err := store.CheckData(rec, evs); err != nil {
		return nil, s.refuseResume(ctx, id, err)
	}
	var st workflows.State
	if len(rec.Data) > 0 && string(rec.Data) != "null" {
		if err := json.Unmarshal(rec.Data, &st); err != nil {
			s.log.Warn("cannot resume session: its state does not decode", "session", id, "err", err)
			return nil, nil
		}
	} else {
		st = s.policyFor(rec.Agent).Workflow.Start(workflows.SessionInfo{ID: id, Agent: rec.Agent, RemoteAddr: rec.RemoteAddr, Started: rec.Started})
	}
	sess := &session{key: id, id: id, agent: ident.agent, remote: rec.RemoteAddr, userAgent: rec.UserAgent,
		started: rec.Started, listening: make(chan struct{}),
		client: strings.TrimSpace(rec.ClientName + " " + rec.ClientVersion)}
	sess.limiter.Store(newLimiter(s.sessionRate(rec.Agent)))
	st.Signals = signalsOnRecord(evs) // the risk is what the chain records
	sess.state = s.policyFor(rec.Agent).Workflow.Resume(st)
	sess.prov = provenanceOnRecord(evs, s.policyFor(rec.Agent).Workflow.ConfigValues())
	sess.changedHands = changedHandsOnRecord(evs)
	if !s.sessions.revive(sess) {
		return s.sessions.get(id), nil // another request revived it first
	}
	if _, err := s.store.Append(context.WithoutCancel(ctx), id, store.Event{Kind: store.KindSignal, Verdict: "allow",
		Reasons: []string{"session resumed after warden restarted"}}); err != nil {
		s.log.Error("cannot record session resumption", "session", id, "err", err)
	}
	s.closeTakenOver(ctx, id, evs)
	// Its upstream sessions ended with the warden that served it.
	s.hub.Resumed(sess.who())
	s.log.Info("session resumed after a restart", "session", id, "agent", rec.Agent)
	if s.reconcile(context.WithoutCancel(ctx), sess) {
		return nil, nil // a reload replaced the agent's token meanwhile
	}
	return sess, nil
}

// refuseResume kills, on record, a session whose state failed its check,
// and returns the error its agent gets. The kill is recorded before the
// answer; if it cannot be, the session stays refused all the same.
func (s *Supervisor) refuseResume(ctx context.Context, id string, cause error) error {
	reason := "not resumed: its recorded state does not match its history"
	if err := s.killRecorded(ctx, id, reason+": "+cause.Error(), "warden"); err != nil {
		s.log.Error("cannot record the refused resumption", "session", id, "err", err)
	}
	s.log.Error("session not resumed: its recorded state does not match its history", "session", id, "err", cause)
	return fmt.Errorf("session %s %s; it was killed", id, reason)
}
