package store

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"
)

// The session log: every session's start and end is also an event on the
// SystemLog chain, so that a session cannot vanish, nor its head be moved
// back, without the SystemLog chain changing too.
//
// CreateSession appends a session_start event (Data: sessionMark with the
// id and agent) once the record is durable; UpdateSession appends a
// session_end event (the state and the chain head at that moment) when a
// session enters a final state. Verify then checks that every session
// record has its start on the SystemLog, that every session started there
// still has its record (a pruned one keeps it, under its tombstone), that
// the chain of a session whose end is recorded still holds the head
// recorded then, and that every approval names a session that exists.
//
// The record and its start are two writes (the record is in bbolt, the
// event goes through the log). A crash between them leaves a record with
// no start and no events; Verify accepts that one shape, since it holds
// nothing. A session's chain may run past its recorded end (the result of
// a call cancelled by the end can land after it): only the recorded head
// must still be in the chain.
//
// The session log is kept from the first Open WithSessionLog (warden serve
// and stdio) on; the meta bucket's flag says so, and Verify checks against
// the log only in a file that has it, or whose log holds a session's start
// or end (so that deleting the flag turns nothing off). Files written
// before: that first Open records the sessions it finds, with their heads,
// in sessions_adopted events, before anything else is written, then sets
// the flag. From then on those sessions are held like the others, from
// their heads at adoption; what was done to them before that cannot be
// told.

// KindSessionsAdopted is a SystemLog event listing sessions that existed
// before the session log was kept (Data: {"sessions": [sessionMark]}).
const KindSessionsAdopted = "sessions_adopted"

// keySessionsChained, in the meta bucket, says the file's sessions are on
// the session log (adopted or started there).
var keySessionsChained = []byte("sessions_chained")

// adoptBatch bounds the sessions of one sessions_adopted event.
const adoptBatch = 500

// sessionMark is the Data of a session_start or session_end event on the
// SystemLog chain, and one session of a sessions_adopted event.
type sessionMark struct {
	Session string `json:"session"`
	Agent   string `json:"agent,omitempty"`
	State   string `json:"state,omitempty"`
	LastSeq uint64 `json:"last_seq,omitempty"`
	Head    string `json:"head,omitempty"`
}

// markStart records a session's start on the SystemLog.
func (d *DB) markStart(ctx context.Context, s Session) error {
	if !d.logSessions {
		return nil
	}
	ev, err := SessionStartEvent(s)
	if err != nil {
		return err
	}
	_, err = d.Append(ctx, SystemLog, ev)
	return err
}

// markEnd records a session's final state and chain head on the SystemLog.
// The head is read once every event already logged is in bbolt.
func (d *DB) markEnd(ctx context.Context, id string) error {
	if !d.logSessions {
		return nil
	}
	s, err := d.Session(ctx, id)
	if err != nil {
		return err
	}
	ev, err := SessionEndEvent(s)
	if err != nil {
		return err
	}
	_, err = d.Append(ctx, SystemLog, ev)
	return err
}

// SessionStartEvent is the SystemLog event that records s's start; a
// store kept elsewhere (store/postgres) writes the same.
func SessionStartEvent(s Session) (Event, error) {
	data, err := json.Marshal(sessionMark{Session: s.ID, Agent: s.Agent})
	if err != nil {
		return Event{}, fmt.Errorf("encode the start of %q: %w", s.ID, err)
	}
	return Event{Kind: KindSessionStart, Data: data}, nil
}

// SessionEndEvent is the SystemLog event that records s's final state and
// its chain head (s as it is once the state is written).
func SessionEndEvent(s Session) (Event, error) {
	data, err := json.Marshal(markOf(s))
	if err != nil {
		return Event{}, fmt.Errorf("encode the end of %q: %w", s.ID, err)
	}
	return Event{Kind: KindSessionEnd, Data: data, Reasons: []string{s.Reason}}, nil
}

// SessionsAdoptedEvents are the SystemLog events that put sessions
// recorded before the session log on it, held from their heads now.
func SessionsAdoptedEvents(ss []Session) ([]Event, error) {
	var out []Event
	for chunk := range slices.Chunk(ss, adoptBatch) {
		marks := make([]sessionMark, len(chunk))
		for i, s := range chunk {
			marks[i] = markOf(s)
		}
		data, err := json.Marshal(map[string][]sessionMark{"sessions": marks})
		if err != nil {
			return nil, fmt.Errorf("adopt sessions: %w", err)
		}
		out = append(out, Event{Kind: KindSessionsAdopted, Data: data,
			Reasons: []string{fmt.Sprintf("%d sessions recorded before the session log: held from their heads now", len(chunk))}})
	}
	return out, nil
}

func markOf(s Session) sessionMark {
	return sessionMark{Session: s.ID, Agent: s.Agent, State: s.State, LastSeq: s.LastSeq, Head: s.Head}
}

// adoptSessions turns the session log on for the file if it is on already
// or enable is set. The first time, it puts the sessions the file already
// holds on the log (see above), then sets the file's flag.
func (d *DB) adoptSessions(ctx context.Context, enable bool) error {
	var done bool
	var todo []Session
	err := d.view(ctx, func(tx *bolt.Tx) error {
		if tx.Bucket(bucketMeta).Get(keySessionsChained) != nil || !enable {
			done = true
			return nil
		}
		// A crash during an earlier adoption leaves some adopted already.
		log := readSessionLog(tx)
		if log.kept {
			// Starts or ends on the log, but no flag: it was deleted.
			// Adopting now would take in sessions put there since.
			done = true
			return nil
		}
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			if string(k) == SystemLog || log.started[string(k)] {
				return nil
			}
			s, err := decodeSession(v)
			if err != nil {
				return nil // Verify reports it
			}
			todo = append(todo, s)
			return nil
		})
	})
	if err != nil || done {
		d.logSessions = err == nil && (enable || sessionLogOn(d.bolt))
		return err
	}
	evs, err := SessionsAdoptedEvents(todo)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if _, err := d.Append(ctx, SystemLog, ev); err != nil {
			return fmt.Errorf("adopt sessions: %w", err)
		}
	}
	err = d.w.do(ctx, func(tx *bolt.Tx) error {
		return abort(tx.Bucket(bucketMeta).Put(keySessionsChained, []byte{1}))
	})
	d.logSessions = err == nil
	return err
}

// sessionLogOn reports whether the file keeps the session log.
func sessionLogOn(db *bolt.DB) bool {
	on := false
	_ = db.View(func(tx *bolt.Tx) error {
		on = sessionLogKept(tx, nil)
		return nil
	})
	return on
}

// sessionLogKept reports whether the file keeps the session log: its flag
// is set, or the system log holds a session's start or end, which only a
// file with the flag gets (so deleting the flag does not turn the checks
// off). log is the session log if already read, or nil.
func sessionLogKept(tx *bolt.Tx, log *sessionLog) bool {
	if tx.Bucket(bucketMeta).Get(keySessionsChained) != nil {
		return true
	}
	if log == nil {
		l := readSessionLog(tx)
		log = &l
	}
	return log.kept
}

// sessionLog is what the intact part of the SystemLog chain says of
// sessions: which started (or were adopted), and the last recorded end of
// each (an adopted session in a final state counts as ended then).
type sessionLog struct {
	started map[string]bool
	ended   map[string]sessionMark
	order   []Session // started sessions (ID and Agent as started), in log order
	// kept: a session_start or session_end is on the log, so the file
	// keeps the session log whatever its flag says.
	kept bool
}

// readSessionLog reads the session log from the SystemLog chain, up to its
// first broken event (Verify reports that break; nothing after it is
// trusted).
func readSessionLog(tx *bolt.Tx) sessionLog {
	sys := tx.Bucket(bucketEvents).Bucket([]byte(SystemLog))
	if sys == nil {
		return scanSessionLog(func() []byte { return nil })
	}
	c := sys.Cursor()
	first := true
	return scanSessionLog(func() []byte {
		var v []byte
		if first {
			first = false
			_, v = c.First()
		} else {
			_, v = c.Next()
		}
		return v
	})
}

// SessionLogOf reads the session log of a SystemLog chain kept elsewhere
// (store/postgres), up to its first broken event: next yields the stored
// events in seq order, and nil at the end. It returns the sessions
// started or adopted on it, in log order (ID, and Agent as recorded at the
// start); of those whose end is recorded,
// the session as it was then (ID, Agent, State, LastSeq, Head); and
// whether the log holds a session's start or end at all.
func SessionLogOf(next func() []byte) (started []Session, ended map[string]Session, kept bool) {
	l := scanSessionLog(next)
	ended = make(map[string]Session, len(l.ended))
	for id, m := range l.ended {
		ended[id] = Session{ID: m.Session, Agent: m.Agent, State: m.State, LastSeq: m.LastSeq, Head: m.Head}
	}
	return l.order, ended, l.kept
}

// scanSessionLog reads the session log from the SystemLog chain's stored
// events, yielded in seq order by next (nil at the end).
func scanSessionLog(next func() []byte) sessionLog {
	l := sessionLog{started: map[string]bool{}, ended: map[string]sessionMark{}}
	start := func(m sessionMark) {
		if !l.started[m.Session] {
			l.started[m.Session] = true
			l.order = append(l.order, Session{ID: m.Session, Agent: m.Agent})
		}
	}
	prev, expect := "", uint64(1)
	for v := next(); v != nil; v = next() {
		ev, err := decodeEvent(v)
		if err != nil || ev.Seq != expect || ev.Prev != prev {
			break
		}
		if h, err := hashEvent(ev); err != nil || h != ev.Hash {
			break
		}
		prev, expect = ev.Hash, expect+1
		switch ev.Kind {
		case KindSessionStart, KindSessionEnd:
			l.kept = true
			var m sessionMark
			if json.Unmarshal(ev.Data, &m) != nil || m.Session == "" {
				continue
			}
			start(m)
			if ev.Kind == KindSessionEnd {
				l.ended[m.Session] = m
			}
		case KindSessionsAdopted:
			var a struct{ Sessions []sessionMark }
			if json.Unmarshal(ev.Data, &a) != nil {
				continue
			}
			for _, m := range a.Sessions {
				start(m)
				if m.State != "" && m.State != StateActive {
					l.ended[m.Session] = m
				}
			}
		}
	}
	return l
}

// checkSessionLog adds to rep what the session log and the approvals say
// that the chains alone cannot: sessions deleted whole, heads moved back
// below their recorded end, records that never started, approvals of
// sessions that do not exist. A session already broken is not reported
// twice.
func checkSessionLog(tx *bolt.Tx, rep *Report) {
	log := readSessionLog(tx)
	if !sessionLogKept(tx, &log) {
		return // the file has no session log to check against
	}
	rep.SessionLog = true
	add := rep.BreakOnce()
	sessions := tx.Bucket(bucketSessions)
	_ = sessions.ForEach(func(k, v []byte) error {
		id := string(k)
		if id == SystemLog || log.started[id] {
			return nil
		}
		s, err := decodeSession(v)
		if err != nil {
			return nil // reported by Verify
		}
		if s.LastSeq == 0 && tx.Bucket(bucketEvents).Bucket(k) == nil {
			return nil // a crash between the record and its start; it holds nothing
		}
		add(id, 1, "the session has no start on the system log: recorded outside warden, or its start was removed")
		return nil
	})
	for _, start := range log.order {
		id := start.ID
		raw := sessions.Get([]byte(id))
		if raw == nil {
			add(id, 1, "the system log records the start of this session, but the session is gone: deleted")
			continue
		}
		s, err := decodeSession(raw)
		if err != nil {
			continue
		}
		m, ok := log.ended[id]
		if reason := DisagreesWithLog(s, start, Session{State: m.State}, ok); reason != "" {
			add(id, 0, "%s", reason)
			continue
		}
		if !ok {
			continue
		}
		if reason := holdsHead(tx, s, m.LastSeq, m.Head); reason != "" {
			add(id, m.LastSeq, "the system log recorded this session's end at event %d, but %s", m.LastSeq, reason)
		}
	}
	if all := tx.Bucket(bucketApprovals); all != nil {
		_ = all.ForEach(func(k, v []byte) error {
			a, err := decodeApproval(v)
			switch {
			case err != nil:
				rep.Broken = append(rep.Broken, Break{Reason: fmt.Sprintf("approval %q: %v", k, err)})
			case sessions.Get([]byte(a.Session)) == nil || a.Session == SystemLog:
				rep.Broken = append(rep.Broken, Break{Session: a.Session,
					Reason: fmt.Sprintf("approval %s names this session, which does not exist: deleted, or the approval forged", a.ID)})
			}
			return nil
		})
	}
}

// DisagreesWithLog says how the record rec of a session contradicts
// what the session log recorded of it ("" when it does not): start (its
// agent when it started) and, if ended, end (its final state). The record
// is outside every chain; resume trusts its agent to say whose the
// session is and its state to say whether it may go on, so an edit of
// either must not pass for history.
func DisagreesWithLog(rec, start, end Session, ended bool) string {
	switch {
	case rec.Agent != start.Agent:
		return fmt.Sprintf("its record says agent %q, but the system log recorded its start by agent %q: given to another agent", rec.Agent, start.Agent)
	case ended && rec.State != end.State:
		return fmt.Sprintf("its record says it is %s, but the system log recorded it %s", rec.State, end.State)
	}
	return ""
}

// BreakOnce returns a func that adds a break to r for a session that is
// not broken in r yet, so that what the session log finds is not reported
// on top of a chain's own break.
func (r *Report) BreakOnce() func(id string, seq uint64, format string, args ...any) {
	broken := map[string]bool{}
	for _, b := range r.Broken {
		broken[b.Session] = true
	}
	return func(id string, seq uint64, format string, args ...any) {
		if !broken[id] {
			broken[id] = true
			r.Broken = append(r.Broken, Break{Session: id, Seq: seq, Reason: fmt.Sprintf(format, args...)})
		}
	}
}

// holdsHead says why the chain of s does not hold event seq with hash
// ("" when it does). Events pruned by retention count as held when their
// tombstone covers seq; Verify checks the tombstone against its prune.
func holdsHead(tx *bolt.Tx, s Session, seq uint64, hash string) string {
	switch {
	case seq == 0:
		return ""
	case seq > s.LastSeq:
		return fmt.Sprintf("its chain now ends at event %d: cut, and its head rewritten to match", s.LastSeq)
	case seq == s.LastSeq:
		if s.Head != hash {
			return fmt.Sprintf("event %d is not the one recorded then: rewritten", seq)
		}
		return ""
	}
	if chain := tx.Bucket(bucketEvents).Bucket([]byte(s.ID)); chain != nil {
		if raw := chain.Get(seqKey(seq)); raw != nil {
			ev, err := decodeEvent(raw)
			if err != nil || ev.Hash != hash {
				return fmt.Sprintf("event %d is not the one recorded then: rewritten", seq)
			}
			return ""
		}
	}
	if tombs := tx.Bucket(bucketPruned); tombs != nil {
		if raw := tombs.Get([]byte(s.ID)); raw != nil {
			var t Tombstone
			if decodeStrict(raw, &t) == nil && seq <= t.LastSeq && (seq < t.LastSeq || t.Head == hash) {
				return "" // pruned; the export file holds it
			}
		}
	}
	return fmt.Sprintf("event %d is missing: deleted", seq)
}
