package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warden-dev/warden/store"
)

// CreateSession records s; the error wraps store.ErrExists if the id is
// taken. A replica (WithReplica) takes the new session's lease with it.
func (d *DB) CreateSession(ctx context.Context, s store.Session) error {
	s, err := store.PrepareSession(s)
	if err != nil {
		return err
	}
	body, err := json.Marshal(&s)
	if err != nil {
		return fmt.Errorf("store: create session %q: %w", s.ID, err)
	}
	var epoch int64
	err = d.tx(ctx, withStart(ctx, s, func(tx pgx.Tx) error { // the session log (sessionlog.go)
		if _, err := tx.Exec(ctx, "INSERT INTO sessions (id, agent, state, started_ns, body) VALUES ($1, $2, $3, $4, $5)",
			s.ID, s.Agent, s.State, s.Started.UnixNano(), body); err != nil || d.leases.replica == "" {
			return err
		}
		epoch, err = takeLease(ctx, tx, s.ID, d.leases.replica)
		return err
	}))
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("store: create session %q: %w", s.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: create session %q: %w", s.ID, err)
	}
	if d.leases.replica != "" {
		d.leases.set(s.ID, epoch)
	}
	return nil
}

// UpdateSession runs fn on the session with its row locked and writes
// the result in the same transaction. A replica updates a session only
// under its lease, checked in that transaction as for appends: one that
// lost the session (to a takeover) cannot end or change it from a stale
// copy.
func (d *DB) UpdateSession(ctx context.Context, id string, fn func(*store.Session) error) error {
	if fn == nil {
		return fmt.Errorf("store: update session %q: nil fn", id)
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if err := d.checkLease(ctx, tx, id); err != nil {
			return err
		}
		old, err := lockSession(ctx, tx, id)
		if err != nil {
			return err
		}
		s, _ := decodeSession(mustJSON(old)) // a copy, so fn cannot reach old's slices
		if err := callFn(fn, &s); err != nil {
			return err
		}
		if s, err = store.CheckSessionUpdate(old, s); err != nil {
			return err
		}
		return putSessionMarked(ctx, tx, old, s)
	})
	if err != nil {
		return fmt.Errorf("store: update session %q: %w", id, err)
	}
	return nil
}

// Session returns one session; the error wraps store.ErrNotFound when missing.
func (d *DB) Session(ctx context.Context, id string) (store.Session, error) {
	if d.closed.Load() {
		return store.Session{}, store.ErrClosed
	}
	var body []byte
	if err := d.pool.QueryRow(ctx, "SELECT body FROM sessions WHERE id = $1", id).Scan(&body); err != nil {
		return store.Session{}, fmt.Errorf("store: session %q: %w", id, notFound(err))
	}
	s, err := decodeSession(body)
	if err != nil {
		return store.Session{}, fmt.Errorf("store: session %q: %w", id, err)
	}
	return s, nil
}

// Sessions lists the sessions that match f, newest Started first (ties:
// greater id first, as the bbolt store's index orders them).
func (d *DB) Sessions(ctx context.Context, f store.Filter) ([]store.Session, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: sessions: negative limit %d", f.Limit)
	}
	since, until := int64(math.MinInt64), int64(math.MaxInt64)
	if !f.Since.IsZero() {
		since = f.Since.UnixNano()
	}
	if !f.Until.IsZero() {
		until = f.Until.UnixNano()
	}
	limit := any(nil)
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := d.query(ctx, `SELECT body FROM sessions
		WHERE id <> $1 AND ($2 = '' OR agent = $2) AND ($3 = '' OR state = $3) AND started_ns >= $4 AND started_ns < $5
		ORDER BY started_ns DESC, id DESC LIMIT $6`, store.SystemLog, f.Agent, f.State, since, until, limit)
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	out, err := collect(rows, decodeSession)
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	return out, nil
}

// lockSession reads a session with its row locked until tx ends.
func lockSession(ctx context.Context, tx pgx.Tx, id string) (store.Session, error) {
	var body []byte
	if err := tx.QueryRow(ctx, "SELECT body FROM sessions WHERE id = $1 FOR UPDATE", id).Scan(&body); err != nil {
		return store.Session{}, notFound(err)
	}
	return decodeSession(body)
}

func putSession(ctx context.Context, tx pgx.Tx, s store.Session) error {
	body, err := json.Marshal(&s)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	_, err = tx.Exec(ctx, "UPDATE sessions SET agent = $2, state = $3, body = $4 WHERE id = $1", s.ID, s.Agent, s.State, body)
	return err
}

func decodeSession(b []byte) (store.Session, error) {
	var s store.Session
	if err := json.Unmarshal(b, &s); err != nil {
		return store.Session{}, fmt.Errorf("decode session: %w", err)
	}
	return s, nil
}

// mustJSON encodes a value that came from JSON, which cannot fail.
func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

// callFn runs fn and turns a panic into an error, as the bbolt store does.
func callFn(fn func(*store.Session) error, s *store.Session) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("fn panicked: %v", r)
		}
	}()
	return fn(s)
}
