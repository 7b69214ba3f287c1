package store

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// validState reports whether s is one of the four session states.
func validState(s string) bool {
	switch s {
	case StateActive, StateEnded, StateKilled, StateExpired:
		return true
	}
	return false
}

// decodeSession parses a stored session record.
func decodeSession(b []byte) (Session, error) {
	var s Session
	if err := decodeStrict(b, &s); err != nil {
		return Session{}, fmt.Errorf("decode session: %w", err)
	}
	if s.ID == "" {
		return Session{}, errors.New("decode session: empty id")
	}
	return s, nil
}

func encodeSession(s Session) ([]byte, error) {
	b, err := json.Marshal(&s)
	if err != nil {
		return nil, fmt.Errorf("encode session %q: %w", s.ID, err)
	}
	return b, nil
}

// CreateSession records s. Its ID is the caller's; an empty State becomes
// StateActive and a zero Started becomes now. LastSeq and Head must be
// empty: Append owns them. The error wraps ErrExists if the id is taken.
func (d *DB) CreateSession(ctx context.Context, s Session) error {
	s, err := PrepareSession(s)
	if err != nil {
		return err
	}
	val, err := encodeSession(s)
	if err != nil {
		return fmt.Errorf("store: create session: %w", err)
	}
	id := []byte(s.ID)
	err = d.w.do(ctx, func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		if sessions.Get(id) != nil {
			return fmt.Errorf("store: create session %q: %w", s.ID, ErrExists)
		}
		if err := sessions.Put(id, val); err != nil {
			return abort(fmt.Errorf("session %q: %w", s.ID, err))
		}
		return abort(tx.Bucket(bucketStarted).Put(startedKey(s.Started, s.ID), nil))
	})
	if err != nil {
		return err
	}
	// On the session log (sessionlog.go), so that deleting it shows.
	if err := d.markStart(ctx, s); err != nil {
		return fmt.Errorf("store: create session %q: recorded, but not its start on the system log: %w", s.ID, err)
	}
	return nil
}

// UpdateSession runs fn on the stored session and writes the result, in
// one durable transaction. fn runs on the writer goroutine, where it holds
// up every other write: keep it short and do not call the store from it.
// fn may not change ID, Started, LastSeq or Head, nor Data: that is
// AppendWithData's, with the event that commits the chain to it. A
// session that enters a final state gets its end, with its chain head, on
// the session log.
func (d *DB) UpdateSession(ctx context.Context, id string, fn func(*Session) error) error {
	if fn == nil {
		return fmt.Errorf("store: update session %q: nil fn", id)
	}
	key := []byte(id)
	var ended bool
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		raw := sessions.Get(key)
		if raw == nil {
			return fmt.Errorf("store: update session %q: %w", id, ErrNotFound)
		}
		old, err := decodeSession(raw)
		if err != nil {
			return fmt.Errorf("store: update session %q: %w", id, err)
		}
		s, _ := decodeSession(raw) // a second copy, so fn cannot reach old's slices
		if err := callFn(fn, &s); err != nil {
			return fmt.Errorf("store: update session %q: %w", id, err)
		}
		if s, err = CheckSessionUpdate(old, s); err != nil {
			return err
		}
		val, err := encodeSession(s)
		if err != nil {
			return fmt.Errorf("store: update session: %w", err)
		}
		ended = s.State != old.State && s.State != StateActive && id != SystemLog
		return abort(sessions.Put(key, val))
	})
	if err != nil || !ended {
		return err
	}
	if err := d.markEnd(ctx, id); err != nil {
		return fmt.Errorf("store: update session %q: its end is recorded, but not on the system log: %w", id, err)
	}
	return nil
}

// callFn runs fn and turns a panic into an error: fn runs on the writer
// goroutine, and a panic there would take every caller down with it.
func callFn(fn func(*Session) error, s *Session) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fn panicked: %v", r)
		}
	}()
	return fn(s)
}

// Session returns the session with the given id.
func (d *DB) Session(ctx context.Context, id string) (Session, error) {
	var s Session
	err := d.view(ctx, func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSessions).Get([]byte(id))
		if raw == nil {
			return ErrNotFound
		}
		var err error
		s, err = decodeSession(raw)
		return err
	})
	if err != nil {
		return Session{}, fmt.Errorf("store: session %q: %w", id, err)
	}
	return s, nil
}

// Sessions lists the sessions that match f, newest Started first. It walks
// the started index from Until back to Since and reads session records
// only, never events.
func (d *DB) Sessions(ctx context.Context, f Filter) ([]Session, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: sessions: negative limit %d", f.Limit)
	}
	var out []Session
	err := d.view(ctx, func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		c := tx.Bucket(bucketStarted).Cursor()
		var k []byte
		if f.Until.IsZero() {
			k, _ = c.Last()
		} else {
			// Seek finds the first key >= Until; the one before it is
			// the newest session started before Until.
			if k, _ = c.Seek(startedKey(f.Until, "")); k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		var since []byte
		if !f.Since.IsZero() {
			since = startedKey(f.Since, "")
		}
		for ; k != nil; k, _ = c.Prev() {
			if since != nil && bytes.Compare(k, since) < 0 {
				break
			}
			if len(k) < 8 {
				return fmt.Errorf("malformed index key %x", k)
			}
			id := k[8:]
			raw := sessions.Get(id)
			if raw == nil {
				return fmt.Errorf("index names session %q, which has no record", id)
			}
			s, err := decodeSession(raw)
			if err != nil {
				return err
			}
			if (f.Agent != "" && s.Agent != f.Agent) || (f.State != "" && s.State != f.State) {
				continue
			}
			out = append(out, s)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	return out, nil
}

// PrepareSession checks s as CreateSession takes it and fills in its
// defaults (State active, Started and LastSeen now, in UTC). Every Store's
// CreateSession runs it.
func PrepareSession(s Session) (Session, error) {
	switch {
	case s.ID == "":
		return s, errors.New("store: create session: empty id")
	case s.ID == SystemLog:
		return s, fmt.Errorf("store: create session: id %q is reserved for the system log", SystemLog)
	case s.LastSeq != 0 || s.Head != "":
		return s, fmt.Errorf("store: create session %q: LastSeq and Head are set by Append, not by the caller", s.ID)
	}
	if s.State == "" {
		s.State = StateActive
	}
	if !validState(s.State) {
		return s, fmt.Errorf("store: create session %q: unknown state %q", s.ID, s.State)
	}
	if s.Started.IsZero() {
		s.Started = time.Now()
	}
	s.Started = s.Started.UTC()
	if s.LastSeen.IsZero() {
		s.LastSeen = s.Started
	}
	s.LastSeen = s.LastSeen.UTC()
	return s, nil
}

// CheckSessionUpdate checks what an UpdateSession's fn made of old, and
// returns it as it is to be stored. Every Store's UpdateSession runs it.
func CheckSessionUpdate(old, s Session) (Session, error) {
	id := old.ID
	switch {
	case s.ID != old.ID, !s.Started.Equal(old.Started):
		return s, fmt.Errorf("store: update session %q: fn may not change ID or Started", id)
	case s.LastSeq != old.LastSeq, s.Head != old.Head:
		return s, fmt.Errorf("store: update session %q: fn may not change LastSeq or Head", id)
	case !bytes.Equal(s.Data, old.Data):
		return s, fmt.Errorf("store: update session %q: fn may not change Data (AppendWithData writes it, on the chain)", id)
	case !validState(s.State):
		return s, fmt.Errorf("store: update session %q: unknown state %q", id, s.State)
	}
	s.Started, s.LastSeen = old.Started, s.LastSeen.UTC()
	return s, nil
}
