package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// The session log, as the bbolt store keeps it (store/sessionlog.go):
// every session's start and end is also an event on the SystemLog chain,
// so that a session deleted whole (its row and its events), or an ended
// session's chain cut back with its head moved to match, leaves the
// SystemLog chain disagreeing, and Verify says so.
//
// Unlike bbolt's two writes, the start is appended in CreateSession's own
// transaction and the end in the transaction of UpdateSession that writes
// the final state, so there is no crash between a record and its mark.
// Replicas serialise on the SystemLog's row (appendTx locks it FOR
// UPDATE), not on any session's lease: the log is one linear chain
// whatever writes it. Lock order is always a session's row, then the
// SystemLog's row; nothing takes them the other way round.
//
// The log is kept from migration 0006 on, which puts the sessions already
// there on it with their heads (sessions_adopted events) in its own
// transaction; an import adopts what its source did not log. Verify
// always checks against it.

// withStart is CreateSession's transaction fn followed by s's start on
// the log: last, so that the log's row, which every start waits for, is
// held for the commit and little else.
func withStart(ctx context.Context, s store.Session, fn func(pgx.Tx) error) func(pgx.Tx) error {
	return func(tx pgx.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return markStart(ctx, tx, s)
	}
}

// markStart appends s's start to the SystemLog chain inside tx.
func markStart(ctx context.Context, tx pgx.Tx, s store.Session) error {
	ev, err := store.SessionStartEvent(s)
	if err != nil {
		return err
	}
	return appendSystem(ctx, tx, ev)
}

// putSessionMarked writes s over old inside tx and, when s enters a final
// state, appends its end with its chain head (the row is locked, so the
// head is exactly the one the end covers).
func putSessionMarked(ctx context.Context, tx pgx.Tx, old, s store.Session) error {
	if err := putSession(ctx, tx, s); err != nil {
		return err
	}
	if s.State == old.State || s.State == store.StateActive || s.ID == store.SystemLog {
		return nil
	}
	ev, err := store.SessionEndEvent(s)
	if err != nil {
		return err
	}
	return appendSystem(ctx, tx, ev)
}

// appendSystem links ev after the SystemLog's head inside tx.
func appendSystem(ctx context.Context, tx pgx.Tx, ev store.Event) error {
	ev, err := store.PrepareEvent(store.SystemLog, ev, nil)
	if err != nil {
		return err
	}
	if _, err := appendTx(ctx, tx, store.SystemLog, ev, nil); err != nil {
		return fmt.Errorf("the system log: %w", err)
	}
	return nil
}

// adoptSessions puts the sessions that have no start on the session log
// on it, with their heads now, unless the log already holds a session's
// start or end (then a session without one was put there behind warden's
// back, and adopting it would hide that).
func adoptSessions(ctx context.Context, tx pgx.Tx) error {
	// Lock the log's head first, so nothing is appended to it meanwhile.
	if _, err := tx.Exec(ctx, "SELECT 1 FROM sessions WHERE id = $1 FOR UPDATE", store.SystemLog); err != nil {
		return fmt.Errorf("adopt sessions: %w", err)
	}
	started, _, kept, err := readSessionLog(ctx, tx)
	if err != nil || kept {
		return err
	}
	logged := make(map[string]bool, len(started))
	for _, st := range started {
		logged[st.ID] = true
	}
	rows, err := tx.Query(ctx, "SELECT body FROM sessions WHERE id <> $1 ORDER BY started_ns, id", store.SystemLog)
	if err != nil {
		return fmt.Errorf("adopt sessions: %w", err)
	}
	all, err := collect(rows, decodeSession)
	if err != nil {
		return fmt.Errorf("adopt sessions: %w", err)
	}
	var todo []store.Session
	for _, s := range all {
		if !logged[s.ID] {
			todo = append(todo, s)
		}
	}
	evs, err := store.SessionsAdoptedEvents(todo)
	if err != nil {
		return err
	}
	for _, ev := range evs {
		if err := appendSystem(ctx, tx, ev); err != nil {
			return fmt.Errorf("adopt sessions: %w", err)
		}
	}
	return nil
}

// readSessionLog reads the session log off the SystemLog chain (see
// store.SessionLogOf).
func readSessionLog(ctx context.Context, tx pgx.Tx) (started []store.Session, ended map[string]store.Session, kept bool, _ error) {
	rows, err := tx.Query(ctx, "SELECT body FROM events WHERE session = $1 ORDER BY seq", store.SystemLog)
	if err != nil {
		return nil, nil, false, fmt.Errorf("read the session log: %w", err)
	}
	defer rows.Close()
	var scanErr error
	started, ended, kept = store.SessionLogOf(func() []byte {
		var body []byte
		if scanErr != nil || !rows.Next() {
			return nil
		}
		if scanErr = rows.Scan(&body); scanErr != nil || body == nil {
			return nil
		}
		return body
	})
	if scanErr == nil {
		scanErr = rows.Err()
	}
	if scanErr != nil {
		return nil, nil, false, fmt.Errorf("read the session log: %w", scanErr)
	}
	return started, ended, kept, nil
}

// sessionLogVersion is the migration from which the session log is kept
// (migrations/0006_session_log.sql).
const sessionLogVersion = 6
