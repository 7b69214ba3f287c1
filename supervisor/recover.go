package supervisor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
)

// recoverInterrupted tidies the record of sessions that were live when
// warden last stopped (killed, crashed, power lost): a forwarded call with
// no result gets a result event saying its outcome is unknown. A session
// idle for less than the idle TTL stays active, so that its agent can
// carry on with it (resume); an older one is ended as expired. Nothing is
// lost or left looking live for ever; the chains stay intact.
func (s *Supervisor) recoverInterrupted(ctx context.Context) error {
	live, err := s.store.Sessions(ctx, store.Filter{State: store.StateActive})
	if err != nil {
		return fmt.Errorf("recover interrupted sessions: %w", err)
	}
	for _, rec := range live {
		evs, err := s.store.Events(ctx, rec.ID)
		if err != nil {
			return fmt.Errorf("recover session %s: %w", rec.ID, err)
		}
		open := openCalls(evs)
		if err := s.closeOpenCalls(ctx, rec.ID, open, "interrupted: warden stopped before the result came back; the upstream may or may not have acted"); err != nil {
			return fmt.Errorf("recover session %s: %w", rec.ID, err)
		}
		if state, reason, ended := endedOnRecord(evs); ended {
			// A kill or an end whose state change did not land (a crash
			// between the two writes): the session stays over.
			if err := s.store.UpdateSession(ctx, rec.ID, func(r *store.Session) error {
				r.State, r.Reason = state, reason
				return nil
			}); err != nil {
				return fmt.Errorf("recover session %s: %w", rec.ID, err)
			}
			continue
		}
		if time.Since(rec.LastSeen) <= s.opts.IdleTTL {
			continue // resumable
		}
		reason := "idle since warden stopped"
		if _, err := s.store.Append(ctx, rec.ID, store.Event{Kind: store.KindSessionEnd, Reasons: []string{reason}}); err != nil {
			return fmt.Errorf("recover session %s: %w", rec.ID, err)
		}
		err = s.store.UpdateSession(ctx, rec.ID, func(r *store.Session) error {
			r.State, r.Reason = store.StateExpired, reason
			return nil
		})
		if err != nil {
			return fmt.Errorf("recover session %s: %w", rec.ID, err)
		}
		s.log.Warn("closed the record of an expired session", "session", rec.ID, "agent", rec.Agent, "calls_without_result", len(open))
	}
	return nil
}

// openCalls returns, in order, the calls of a chain that went to their
// upstream (a verdict that let them, or an approver's approval) and have
// no result.
func openCalls(evs []store.Event) []store.Event {
	open := map[string]store.Event{}
	held := map[string]store.Event{}
	var order []string
	for _, e := range evs {
		switch e.Kind {
		case store.KindCall, store.KindResourceRead, store.KindPromptGet, store.KindCompletion:
			v, err := warden.ParseVerdict(e.Verdict)
			switch {
			case err == nil && v <= warden.Throttle && !wasRefused(e):
				open[e.CallID] = e
				order = append(order, e.CallID)
			case v == warden.StepUp:
				held[e.CallID] = e
			}
		case store.KindApproval:
			if call, ok := held[e.CallID]; ok && e.Verdict == store.ApprovalApproved {
				open[e.CallID] = call
				order = append(order, e.CallID)
			}
		case store.KindResult:
			delete(open, e.CallID)
		}
	}
	out := make([]store.Event, 0, len(open))
	for _, id := range order {
		if call, ok := open[id]; ok {
			out = append(out, call)
			delete(open, id)
		}
	}
	return out
}

// closeOpenCalls records a result saying why for each open call: its
// outcome is not known to this warden.
func (s *Supervisor) closeOpenCalls(ctx context.Context, session string, open []store.Event, why string) error {
	for _, call := range open {
		if _, err := s.store.Append(ctx, session, store.Event{
			Kind: store.KindResult, CallID: call.CallID, Upstream: call.Upstream, Tool: call.Tool, Error: why,
		}); err != nil {
			return err
		}
	}
	return nil
}

// endedOnRecord reports whether a session's history says it was killed or
// ended, whatever its record's state says.
func endedOnRecord(evs []store.Event) (state, reason string, ended bool) {
	for _, e := range evs {
		switch e.Kind {
		case store.KindKill:
			return store.StateKilled, strings.Join(e.Reasons, "; "), true
		case store.KindSessionEnd:
			state, reason, ended = store.StateEnded, strings.Join(e.Reasons, "; "), true
		}
	}
	return state, reason, ended
}
