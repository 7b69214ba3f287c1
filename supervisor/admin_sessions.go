package supervisor

import (
	"context"
	"fmt"
	"time"

	"github.com/warden-dev/warden/store"
)

// SessionRow is one session as the session list shows it, the same
// through the admin API and from the history file.
type SessionRow struct {
	store.Session
	// LastActive is when the session's agent was last active on it: the
	// time of its last request's event or result. LastSeen also moves
	// with what warden records on its own (a shutdown, a restart, an idle
	// expiry), so an idle session would seem seen when warden stopped.
	LastActive time.Time `json:"last_active"`
}

// byAgent reports whether an event of this kind is caused by a request of
// the agent.
func byAgent(kind string) bool {
	switch kind {
	case store.KindSessionStart, store.KindCall, store.KindResult, store.KindResourceRead,
		store.KindPromptGet, store.KindCompletion, store.KindIntent, store.KindJudgement, subscribeKind:
		return true
	}
	return false
}

// SessionRows lists the sessions f selects, newest first, each with when
// its agent was last active (which reads its events).
func SessionRows(ctx context.Context, st store.Store, f store.Filter) ([]SessionRow, error) {
	list, err := st.Sessions(ctx, f)
	if err != nil {
		return nil, err
	}
	rows := make([]SessionRow, len(list))
	for i, s := range list {
		evs, err := st.Events(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("session %s: %w", s.ID, err)
		}
		rows[i] = SessionRow{Session: s, LastActive: lastActive(s, evs)}
	}
	return rows, nil
}

// lastActive is the time of the last event of evs that the agent caused,
// or when the session started if none is left (pruned history).
func lastActive(s store.Session, evs []store.Event) time.Time {
	for i := len(evs) - 1; i >= 0; i-- {
		if byAgent(evs[i].Kind) {
			return evs[i].Time
		}
	}
	return s.Started
}
