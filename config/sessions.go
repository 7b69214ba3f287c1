package config

import (
	"fmt"
	"time"
)

// The defaults of an upstream's session settings. A stdio session costs a
// process, hence the lower cap and the spare one kept started; an HTTP
// session costs an initialize.
const (
	defaultMaxSessionsStdio   = 16
	defaultMaxSessionsRemote  = 256
	defaultSpareSessionsStdio = 1
	defaultSessionIdleTimeout = 30 * time.Minute
)

// sessionFields holds an upstream's session settings as written: their
// defaults and checks depend on the transport, known only once the whole
// upstream is read. A nil field was not set (or was null).
type sessionFields struct {
	mode                   SessionSharing
	max                    int // 0 when set but invalid (already reported)
	idle                   time.Duration
	spare                  int64
	spareOK                bool
	maxAt, idleAt, spareAt *field
}

// sessionField reads one of an upstream's session settings into s.
func (d *decoder) sessionField(f field, what string, s *sessionFields) {
	if f.val == nil {
		return // null keeps the default
	}
	switch f.name {
	case "sessions":
		if v, ok := d.str(f.val, what+".sessions"); ok {
			switch m := SessionSharing(v); m {
			case SessionsPerSession, SessionsPerAgent, SessionsShared:
				s.mode = m
			default:
				d.errorf(f.val, "%s.sessions %q is not one of per_session, per_agent, shared", what, v)
			}
		}
	case "max_sessions":
		s.maxAt = &f
		s.max = d.positive(f.val, what+".max_sessions", 0)
	case "session_idle_timeout":
		s.idleAt = &f
		if dur, ok := d.duration(f.val, what+".session_idle_timeout"); ok {
			if dur < time.Second {
				d.errorf(f.val, "%s.session_idle_timeout must be at least 1s, got %s", what, dur)
			} else {
				s.idle = dur
			}
		}
	case "spare_sessions":
		s.spareAt = &f
		if v, ok := d.integer(f.val, what+".spare_sessions"); ok {
			if v < 0 {
				d.errorf(f.val, "%s.spare_sessions must be 0 or more, got %d", what, v)
			} else {
				s.spare, s.spareOK = v, true
			}
		}
	}
}

// resolveSessions sets u's session settings from s and the defaults of
// u's transport, once that is known.
func (d *decoder) resolveSessions(u *Upstream, s sessionFields, what string) {
	u.Sessions = s.mode
	if u.Sessions == "" {
		switch u.Transport {
		case TransportStdio:
			u.Sessions = SessionsPerAgent
		case TransportHTTP, TransportSSE:
			u.Sessions = SessionsPerSession
		default:
			return // no transport: already reported
		}
	}
	if u.Sessions == SessionsShared {
		// One session serves everyone: there is nothing to cap, expire or
		// open ahead, and a setting that does nothing would mislead.
		for _, f := range []*field{s.maxAt, s.idleAt, s.spareAt} {
			if f != nil {
				d.errorf(f.key, "%s.%s applies only to per_session and per_agent, not to shared sessions", what, f.name)
			}
		}
		return
	}
	u.MaxSessions, u.SessionIdleTimeout = defaultMaxSessionsRemote, defaultSessionIdleTimeout
	if u.Transport == TransportStdio {
		u.MaxSessions, u.SpareSessions = defaultMaxSessionsStdio, defaultSpareSessionsStdio
	}
	if s.max > 0 {
		u.MaxSessions = s.max
	}
	if s.idle > 0 {
		u.SessionIdleTimeout = s.idle
	}
	switch {
	case s.maxAt != nil && s.max == 0:
		// max_sessions was invalid and reported; comparing spares
		// against the default would add a confusing second problem.
	case s.spareOK && s.spare >= int64(u.MaxSessions):
		limit := "max_sessions"
		if s.maxAt == nil {
			limit = fmt.Sprintf("the default max_sessions for %s", u.Transport)
		}
		d.errorf(s.spareAt.val, "%s.spare_sessions %d must be less than %s (%d)", what, s.spare, limit, u.MaxSessions)
	case s.spareOK:
		u.SpareSessions = int(s.spare)
	case u.SpareSessions >= u.MaxSessions:
		// max_sessions: 1 leaves no room for the default spare.
		u.SpareSessions = u.MaxSessions - 1
	}
}
