package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// ErrLeaseLost says this replica does not hold the session's lease (any
// more): another replica took it over, so this one must not append.
var ErrLeaseLost = errors.New("this replica does not hold the session's lease (another replica serves it)")

// Option configures Open.
type Option func(*DB)

// WithReplica makes the store one replica among several on one database,
// named id: it appends to a session only while it holds the session's
// lease (CreateSession takes it for a new session, Acquire takes over an
// existing one). Without it the store assumes it is the only writer.
func WithReplica(id string) Option {
	return func(d *DB) { d.leases.replica = id }
}

// leases is what one replica holds: session → the epoch it took.
type leases struct {
	replica string
	mu      sync.Mutex
	held    map[string]int64
}

func (l *leases) set(session string, epoch int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held == nil {
		l.held = map[string]int64{}
	}
	l.held[session] = epoch
}

func (l *leases) epoch(session string) (int64, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	e, ok := l.held[session]
	return e, ok
}

func (l *leases) drop(session string, epoch int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.held[session] == epoch {
		delete(l.held, session)
	}
}

// Acquire takes over the session's lease for this replica, whoever held
// it, and returns the new epoch: from its commit on, the previous
// holder's appends are refused. Call it before reading the chain to
// resume the session, so the chain read is the one appends continue.
// Without WithReplica it does nothing and returns 0.
func (d *DB) Acquire(ctx context.Context, session string) (int64, error) {
	if d.leases.replica == "" {
		return 0, nil
	}
	var epoch int64
	err := d.tx(ctx, func(tx pgx.Tx) error {
		var err error
		epoch, err = takeLease(ctx, tx, session, d.leases.replica)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("store: take the lease of %q: %w", session, err)
	}
	d.leases.set(session, epoch)
	return epoch, nil
}

// Holds reports whether this replica still holds the session's lease in
// the database (true without WithReplica: a lone writer holds them all).
func (d *DB) Holds(ctx context.Context, session string) (bool, error) {
	if d.leases.replica == "" {
		return true, nil
	}
	mine, ok := d.leases.epoch(session)
	if !ok {
		return false, nil
	}
	if d.closed.Load() {
		return false, store.ErrClosed
	}
	var owner string
	var epoch int64
	err := d.pool.QueryRow(ctx, "SELECT owner, epoch FROM leases WHERE session = $1", session).Scan(&owner, &epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: lease of %q: %w", session, err)
	}
	if epoch < mine {
		return true, nil // it took the lease after the row was read
	}
	if owner != d.leases.replica || epoch != mine {
		d.leases.drop(session, mine)
		return false, nil
	}
	return true, nil
}

// takeLease makes owner the session's lease holder with the next epoch.
func takeLease(ctx context.Context, tx pgx.Tx, session, owner string) (int64, error) {
	var epoch int64
	err := tx.QueryRow(ctx, `INSERT INTO leases (session, owner, epoch) VALUES ($1, $2, 1)
		ON CONFLICT (session) DO UPDATE SET owner = $2, epoch = leases.epoch + 1, renewed = now()
		RETURNING epoch`, session, owner).Scan(&epoch)
	return epoch, err
}

// checkLease refuses, inside an append's transaction, a write by a
// replica that does not hold the session's current epoch. The lease row
// is read FOR SHARE: a takeover waits for this append to commit (so the
// new holder reads a chain that includes it), and an append waits for a
// takeover in progress (and is then refused).
func (d *DB) checkLease(ctx context.Context, tx pgx.Tx, session string) error {
	if d.leases.replica == "" || session == store.SystemLog {
		return nil
	}
	mine, ok := d.leases.epoch(session)
	if !ok {
		return ErrLeaseLost
	}
	var owner string
	var epoch int64
	err := tx.QueryRow(ctx, "SELECT owner, epoch FROM leases WHERE session = $1 FOR SHARE", session).Scan(&owner, &epoch)
	if errors.Is(err, pgx.ErrNoRows) {
		return ErrLeaseLost
	}
	if err != nil {
		return err
	}
	if owner != d.leases.replica || epoch != mine {
		d.leases.drop(session, mine)
		return fmt.Errorf("%w: held by %s at epoch %d, this replica (%s) had epoch %d", ErrLeaseLost, owner, epoch, d.leases.replica, mine)
	}
	return nil
}
