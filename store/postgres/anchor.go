package postgres

import (
	"context"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Anchoring on PostgreSQL, as on bbolt (store/anchor.go): checkpoints of
// the chain heads are written outside the database, and CheckHeads tells
// whether the database still holds each. Several replicas share one
// database, so one at a time writes checkpoints: the one holding the
// anchor's advisory lock (AnchorLock).

// anchorLockKey is the advisory lock of the replica that writes
// checkpoints ("anchor").
const anchorLockKey = 0x616e63686f72

// Heads returns the head of every chain with at least one event, the
// SystemLog's included, as one snapshot.
func (d *DB) Heads(ctx context.Context) ([]store.Head, error) {
	rows, err := d.query(ctx, "SELECT body FROM sessions ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("store: heads: %w", err)
	}
	all, err := collect(rows, decodeSession)
	if err != nil {
		return nil, fmt.Errorf("store: heads: %w", err)
	}
	out := make([]store.Head, 0, len(all))
	for _, s := range all {
		if s.LastSeq > 0 {
			out = append(out, store.Head{Session: s.ID, Seq: s.LastSeq, Hash: s.Head})
		}
	}
	return out, nil
}

// CheckHeads reports each head that the database no longer holds: a chain
// that does not reach it, or has another event there. It does not check
// the chains themselves (Verify does).
func (d *DB) CheckHeads(ctx context.Context, heads []store.Head) ([]store.Break, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	var out []store.Break
	ids := make([]string, len(heads))
	for i, h := range heads {
		ids[i] = h.Session
	}
	err := pgx.BeginTxFunc(ctx, d.pool, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly}, func(tx pgx.Tx) error {
		out = nil
		rows, err := tx.Query(ctx, "SELECT id, body FROM sessions WHERE id = ANY($1)", ids)
		if err != nil {
			return err
		}
		bodies := map[string][]byte{}
		var id string
		var body []byte
		if _, err := pgx.ForEachRow(rows, []any{&id, &body}, func() error {
			bodies[id] = body
			return nil
		}); err != nil {
			return err
		}
		for _, h := range heads {
			body, ok := bodies[h.Session]
			if !ok {
				out = append(out, store.Break{Session: h.Session, Seq: h.Seq, Reason: fmt.Sprintf("checkpointed at event %d, but the session is gone", h.Seq)})
				continue
			}
			s, err := decodeSession(body)
			if err != nil {
				out = append(out, store.Break{Session: h.Session, Seq: h.Seq, Reason: fmt.Sprintf("session record: %v", err)})
				continue
			}
			reason, err := holdsHead(ctx, tx, s, h.Seq, h.Hash)
			if err != nil {
				return err
			}
			if reason != "" {
				out = append(out, store.Break{Session: h.Session, Seq: h.Seq, Reason: fmt.Sprintf("checkpointed at event %d, but %s", h.Seq, reason)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: check heads: %w", err)
	}
	return out, nil
}

// AnchorLock lets one replica at a time write checkpoints: it holds the
// anchor's advisory lock on a connection of its own (outside the pool, so
// closing the pool does not wait for it). The lock lasts as long as that
// connection: a replica that dies or is cut off loses it, and another
// takes it at its next Hold.
type AnchorLock struct {
	db   *DB
	mu   sync.Mutex
	conn *pgx.Conn // nil while not held
}

// AnchorLock returns the anchor's lock for this store, not yet held.
func (d *DB) AnchorLock() *AnchorLock { return &AnchorLock{db: d} }

// Hold reports whether this replica holds the lock, taking it if it is
// free. taken says this call took it: the caller then reads the anchor's
// last checkpoint afresh (another replica may have written since) and
// checkpoints every head.
func (l *AnchorLock) Hold(ctx context.Context) (held, taken bool, err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		// A connection that still answers is the session that holds the
		// lock: advisory locks last until their session ends.
		if _, err := l.conn.Exec(ctx, "SELECT 1"); err == nil {
			return true, false, nil
		}
		_ = l.conn.Close(context.WithoutCancel(ctx))
		l.conn = nil
	}
	if l.db.closed.Load() {
		return false, false, store.ErrClosed
	}
	conn, err := pgx.ConnectConfig(ctx, l.db.pool.Config().ConnConfig.Copy())
	if err != nil {
		return false, false, fmt.Errorf("store: anchor lock: %w", err)
	}
	if err := conn.QueryRow(ctx, "SELECT pg_try_advisory_lock($1)", anchorLockKey).Scan(&held); err != nil || !held {
		_ = conn.Close(context.WithoutCancel(ctx))
		if err != nil {
			return false, false, fmt.Errorf("store: anchor lock: %w", err)
		}
		return false, false, nil
	}
	l.conn = conn
	return true, true, nil
}

// Close releases the lock (by ending its connection).
func (l *AnchorLock) Close(ctx context.Context) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn == nil {
		return nil
	}
	err := l.conn.Close(ctx)
	l.conn = nil
	return err
}
