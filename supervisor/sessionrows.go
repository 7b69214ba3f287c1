package supervisor

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/warden-dev/warden/store"
)

// SessionView is a session with its timeline, as the admin API and the CLI
// show it.
type SessionView struct {
	Session store.Session `json:"session"`
	Events  []store.Event `json:"events"`
}

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
		at, err := activeAt(ctx, st, s)
		if err != nil {
			return nil, fmt.Errorf("session %s: %w", s.ID, err)
		}
		rows[i] = SessionRow{Session: s, LastActive: at}
	}
	return rows, nil
}

// tailReader reads a chain's events after a seq, as the bbolt store does.
type tailReader interface {
	EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]store.Event, error)
}

// activeAt is lastActive of s, reading its last events only where the
// store can (a few, more while none is the agent's): reading every event
// of every session made a list of 2,000 sessions of 100 events take
// seconds.
func activeAt(ctx context.Context, st store.Store, s store.Session) (time.Time, error) {
	tr, ok := st.(tailReader)
	if !ok || s.LastSeq == 0 {
		evs, err := st.Events(ctx, s.ID)
		return lastActive(s, evs), err
	}
	for n := uint64(8); ; n *= 4 {
		after := s.LastSeq - min(n, s.LastSeq)
		evs, err := tr.EventsAfter(ctx, s.ID, after, int(n))
		if err != nil {
			return time.Time{}, err
		}
		if at, ok := lastByAgent(evs); ok {
			return at, nil
		}
		if after == 0 {
			return s.Started, nil
		}
	}
}

// lastActive is the time of the last event of evs that the agent caused,
// or when the session started if none is left (pruned history).
func lastActive(s store.Session, evs []store.Event) time.Time {
	if at, ok := lastByAgent(evs); ok {
		return at
	}
	return s.Started
}

// lastByAgent is the time of the last event of evs that the agent caused.
func lastByAgent(evs []store.Event) (time.Time, bool) {
	for i := len(evs) - 1; i >= 0; i-- {
		if byAgent(evs[i].Kind) {
			return evs[i].Time, true
		}
	}
	return time.Time{}, false
}

// ParseFilter reads a session filter from text, as the CLI and the admin
// API take it: since and until are RFC 3339 times or durations back from
// now ("24h").
func ParseFilter(agent, state, since, until, limit string) (store.Filter, error) {
	f := store.Filter{Agent: agent, State: state}
	var err error
	if f.Since, err = parseWhen(since); err != nil {
		return f, fmt.Errorf("since: %w", err)
	}
	if f.Until, err = parseWhen(until); err != nil {
		return f, fmt.Errorf("until: %w", err)
	}
	if limit != "" {
		if f.Limit, err = strconv.Atoi(limit); err != nil || f.Limit < 0 {
			return f, fmt.Errorf("limit: want a whole number, got %q", limit)
		}
	}
	return f, nil
}

func parseWhen(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return time.Now().Add(-d), nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("want an RFC 3339 time or a duration such as 24h, got %q", s)
	}
	return t, nil
}
