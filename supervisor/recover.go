package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/warden-dev/warden"
	"github.com/warden-dev/warden/store"
)

// recoverInterrupted closes the record of sessions that were live when
// warden last stopped without closing them (killed, crashed, power lost):
// a forwarded call with no result gets a result event saying its outcome
// is unknown, and the session is ended with the reason. Nothing is lost or
// left looking live; the chains stay intact.
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
		open := map[string]store.Event{}
		var order []string
		for _, e := range evs {
			switch e.Kind {
			case store.KindCall:
				if v, err := warden.ParseVerdict(e.Verdict); err == nil && v <= warden.Flag {
					open[e.CallID] = e
					order = append(order, e.CallID)
				}
			case store.KindResult:
				delete(open, e.CallID)
			}
		}
		for _, id := range order {
			call, ok := open[id]
			if !ok {
				continue
			}
			_, err := s.store.Append(ctx, rec.ID, store.Event{
				Kind: store.KindResult, CallID: id, Upstream: call.Upstream, Tool: call.Tool,
				Error: "interrupted: warden stopped before the result came back; the upstream may or may not have acted",
			})
			if err != nil {
				return fmt.Errorf("recover session %s: %w", rec.ID, err)
			}
		}
		reason := "warden stopped while the session was live"
		if _, err := s.store.Append(ctx, rec.ID, store.Event{Kind: store.KindSessionEnd, Reasons: []string{reason}}); err != nil {
			return fmt.Errorf("recover session %s: %w", rec.ID, err)
		}
		err = s.store.UpdateSession(ctx, rec.ID, func(r *store.Session) error {
			r.State, r.Reason, r.LastSeen = store.StateEnded, reason, time.Now().UTC()
			return nil
		})
		if err != nil {
			return fmt.Errorf("recover session %s: %w", rec.ID, err)
		}
		s.log.Warn("closed the record of an interrupted session", "session", rec.ID, "agent", rec.Agent, "calls_without_result", len(open))
	}
	return nil
}
