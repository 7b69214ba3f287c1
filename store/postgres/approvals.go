package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/warden-dev/warden/store"
)

// CreateApproval records a pending approval; the error wraps
// store.ErrExists if the id is taken.
func (d *DB) CreateApproval(ctx context.Context, a store.Approval) error {
	return d.CreateApprovalWithin(ctx, a, 0)
}

// CreateApprovalWithin is CreateApproval that also refuses the approval
// when its agent already has perAgent pending, unexpired approvals,
// whichever replica holds them (0: no cap); the error then wraps
// store.ErrOverLimit. The creators of one agent's approvals queue on a
// lock held until their transaction ends, so replicas creating at once
// never exceed the cap; a dead replica's approvals stop counting when
// they expire.
func (d *DB) CreateApprovalWithin(ctx context.Context, a store.Approval, perAgent int) error {
	a, err := store.PrepareApproval(a)
	if err != nil {
		return err
	}
	err = d.tx(ctx, func(tx pgx.Tx) error {
		// Only the replica serving the session holds its calls.
		if err := d.checkLease(ctx, tx, a.Session); err != nil {
			return err
		}
		if err := pendingWithin(ctx, tx, a.Agent, perAgent); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO approvals (id, session, agent, state, created_ns, expires_ns, body) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			a.ID, a.Session, a.Agent, a.State, a.Created.UnixNano(), a.Expires.UnixNano(), mustJSON(&a))
		return err
	})
	if pe := (*pgconn.PgError)(nil); errors.As(err, &pe) && pe.Code == "23505" {
		return fmt.Errorf("store: create approval %q: %w", a.ID, store.ErrExists)
	}
	if err != nil {
		return fmt.Errorf("store: create approval %q: %w", a.ID, err)
	}
	return nil
}

// Approval returns one approval; the error wraps store.ErrNotFound when missing.
func (d *DB) Approval(ctx context.Context, id string) (store.Approval, error) {
	if d.closed.Load() {
		return store.Approval{}, store.ErrClosed
	}
	var body []byte
	if err := d.pool.QueryRow(ctx, "SELECT body FROM approvals WHERE id = $1", id).Scan(&body); err != nil {
		return store.Approval{}, fmt.Errorf("store: approval %q: %w", id, notFound(err))
	}
	return decodeApproval(body)
}

// Approvals lists the approvals that match f, newest Created first.
func (d *DB) Approvals(ctx context.Context, f store.ApprovalFilter) ([]store.Approval, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: approvals: negative limit %d", f.Limit)
	}
	switch f.State {
	case "", store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied, store.ApprovalExpired:
	default:
		return nil, fmt.Errorf("store: approvals: unknown state %q (want %s, %s, %s or %s)", f.State, store.ApprovalPending, store.ApprovalApproved, store.ApprovalDenied, store.ApprovalExpired)
	}
	limit := any(nil)
	if f.Limit > 0 {
		limit = f.Limit
	}
	rows, err := d.query(ctx, `SELECT body FROM approvals WHERE ($1 = '' OR session = $1) AND ($2 = '' OR agent = $2) AND ($3 = '' OR state = $3)
		ORDER BY created_ns DESC, id DESC LIMIT $4`, f.Session, f.Agent, f.State, limit)
	if err != nil {
		return nil, fmt.Errorf("store: approvals: %w", err)
	}
	out, err := collect(rows, decodeApproval)
	if err != nil {
		return nil, fmt.Errorf("store: approvals: %w", err)
	}
	return out, nil
}

// DecideApproval decides a pending, unexpired approval exactly once: the
// approval's row is locked while store.Decide looks at its state.
func (d *DB) DecideApproval(ctx context.Context, id, decision, by string, now time.Time) (store.Approval, error) {
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	var (
		got     store.Approval
		expired bool
		refused error // ErrDecided or ErrExpired: nothing to write
	)
	err := d.tx(ctx, func(tx pgx.Tx) error {
		a, err := lockApproval(ctx, tx, id)
		if err != nil {
			return err
		}
		got = a
		if a, expired, refused = store.Decide(a, decision, by, now); refused != nil {
			return nil
		}
		got = a
		return putApproval(ctx, tx, a)
	})
	switch {
	case err != nil:
		return got, fmt.Errorf("store: decide approval %q: %w", id, err)
	case refused != nil:
		return got, refused
	case expired:
		return got, fmt.Errorf("store: decide approval %q: it expired at %s: %w", id, got.Expires.Format(time.RFC3339), store.ErrExpired)
	}
	return got, nil
}

// ExpireApprovals marks pending approvals past Expires (every pending one
// if all) as expired, in one transaction, and returns how many.
func (d *DB) ExpireApprovals(ctx context.Context, now time.Time, all bool) (int, error) {
	if now.IsZero() {
		now = time.Now()
	}
	note := "no decision before it expired"
	if all {
		note = "warden restarted while the call was held"
	}
	var n int
	err := d.tx(ctx, func(tx pgx.Tx) error {
		n = 0
		rows, err := tx.Query(ctx, "SELECT body FROM approvals WHERE state = $1 AND ($2 OR expires_ns <= $3) ORDER BY id FOR UPDATE",
			store.ApprovalPending, all, now.UnixNano())
		if err != nil {
			return err
		}
		list, err := collect(rows, decodeApproval)
		if err != nil {
			return err
		}
		for _, a := range list {
			a.State, a.Note = store.ApprovalExpired, note
			if err := putApproval(ctx, tx, a); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire approvals: %w", err)
	}
	return n, nil
}

// ExpireApproval marks one pending approval expired with note; one no
// longer pending is returned as it is.
func (d *DB) ExpireApproval(ctx context.Context, id, note string) (store.Approval, error) {
	var out store.Approval
	err := d.tx(ctx, func(tx pgx.Tx) error {
		a, err := lockApproval(ctx, tx, id)
		if err != nil {
			return err
		}
		out = a
		if a.State != store.ApprovalPending {
			return nil
		}
		a.State, a.Note = store.ApprovalExpired, note
		out = a
		return putApproval(ctx, tx, a)
	})
	if err != nil {
		return out, fmt.Errorf("store: approval %q: %w", id, err)
	}
	return out, nil
}

func lockApproval(ctx context.Context, tx pgx.Tx, id string) (store.Approval, error) {
	var body []byte
	if err := tx.QueryRow(ctx, "SELECT body FROM approvals WHERE id = $1 FOR UPDATE", id).Scan(&body); err != nil {
		return store.Approval{}, notFound(err)
	}
	return decodeApproval(body)
}

func putApproval(ctx context.Context, tx pgx.Tx, a store.Approval) error {
	_, err := tx.Exec(ctx, "UPDATE approvals SET state = $2, body = $3 WHERE id = $1", a.ID, a.State, mustJSON(&a))
	return err
}

func decodeApproval(b []byte) (store.Approval, error) {
	var a store.Approval
	if err := json.Unmarshal(b, &a); err != nil {
		return store.Approval{}, fmt.Errorf("decode approval: %w", err)
	}
	return a, nil
}
