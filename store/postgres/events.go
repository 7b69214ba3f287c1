package postgres

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Append adds ev to the session's chain in one committed transaction.
func (d *DB) Append(ctx context.Context, sessionID string, ev store.Event) (store.Event, error) {
	return d.append(ctx, sessionID, ev, nil)
}

// AppendWithData is Append that also sets the session's Data in the same
// transaction.
func (d *DB) AppendWithData(ctx context.Context, sessionID string, ev store.Event, data json.RawMessage) (store.Event, error) {
	if data == nil {
		data = json.RawMessage("null")
	}
	return d.append(ctx, sessionID, ev, data)
}

// append links ev after the chain's head with the session row locked
// (FOR UPDATE), so that concurrent appends to one session queue there
// and never fork the chain. A replica appends only under the session's
// lease (checkLease), in the same transaction.
func (d *DB) append(ctx context.Context, sessionID string, ev store.Event, data json.RawMessage) (store.Event, error) {
	ev, err := store.PrepareEvent(sessionID, ev, data)
	if err != nil {
		return store.Event{}, err
	}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		if err := d.checkLease(ctx, tx, sessionID); err != nil {
			return err
		}
		if goesAhead(ev) {
			if err := checkNotSuspended(ctx, tx, sessionID); err != nil {
				return err
			}
		}
		ev, err = appendTx(ctx, tx, sessionID, ev, data)
		return err
	})
	if err != nil {
		return store.Event{}, fmt.Errorf("store: append to %q: %w", sessionID, err)
	}
	return ev, nil
}

// appendTx links a prepared ev after sessionID's head inside tx, with the
// session row locked until tx ends.
func appendTx(ctx context.Context, tx pgx.Tx, sessionID string, ev store.Event, data json.RawMessage) (store.Event, error) {
	if sessionID == store.SystemLog {
		rec := store.Session{ID: store.SystemLog, State: store.StateActive, Started: ev.Time}
		if _, err := tx.Exec(ctx, "INSERT INTO sessions (id, agent, state, started_ns, body) VALUES ($1, '', $2, $3, $4) ON CONFLICT (id) DO NOTHING",
			rec.ID, rec.State, rec.Started.UnixNano(), mustJSON(&rec)); err != nil {
			return ev, err
		}
	}
	rec, err := lockSession(ctx, tx, sessionID)
	if err != nil {
		return ev, err
	}
	ev.Seq, ev.Prev = rec.LastSeq+1, rec.Head
	body, err := store.SealEvent(&ev)
	if err != nil {
		return ev, err
	}
	if _, err := tx.Exec(ctx, "INSERT INTO events (session, seq, body) VALUES ($1, $2, $3)", sessionID, int64(ev.Seq), body); err != nil {
		return ev, err
	}
	rec.LastSeq, rec.Head = ev.Seq, ev.Hash
	if data != nil {
		rec.Data = data
	}
	if ev.Time.After(rec.LastSeen) {
		rec.LastSeen = ev.Time
	}
	return ev, putSession(ctx, tx, rec)
}

// Events returns the session's events in order; the error wraps
// store.ErrNotFound when there is no such session.
func (d *DB) Events(ctx context.Context, sessionID string) ([]store.Event, error) {
	out, err := d.events(ctx, sessionID, 0, nil)
	if err != nil {
		return nil, fmt.Errorf("store: events of %q: %w", sessionID, err)
	}
	return out, nil
}

// EventsAfter returns up to limit events of sessionID whose seq is above
// after, in order (what an export sink has not seen yet).
func (d *DB) EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]store.Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: events of %q after %d: limit %d is not positive", sessionID, after, limit)
	}
	out, err := d.events(ctx, sessionID, after, limit)
	if err != nil {
		return nil, fmt.Errorf("store: events of %q after %d: %w", sessionID, after, err)
	}
	return out, nil
}

// events reads the chain past after, up to limit (nil: all). The system
// log has no record until its first event, and is never missing.
func (d *DB) events(ctx context.Context, sessionID string, after uint64, limit any) ([]store.Event, error) {
	if sessionID != store.SystemLog {
		if _, err := d.Session(ctx, sessionID); err != nil {
			return nil, err
		}
	}
	return readChain(ctx, d.pool, sessionID, after, limit)
}

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// readChain reads sessionID's events past after, up to limit (nil: all).
func readChain(ctx context.Context, q querier, sessionID string, after uint64, limit any) ([]store.Event, error) {
	rows, err := q.Query(ctx, "SELECT body FROM events WHERE session = $1 AND seq > $2 ORDER BY seq LIMIT $3", sessionID, int64(after), limit)
	if err != nil {
		return nil, err
	}
	return collect(rows, decodeJSON[store.Event])
}
