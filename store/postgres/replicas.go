package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Timings of the replicas' liveness. A replica heartbeats every
// HeartbeatEvery while it reaches the database; a lease whose owner has
// not heartbeaten for LeaseExpiry is dead, and another replica may take
// the session over. LeaseExpiry spans several heartbeats, so that one
// slow heartbeat does not cost a replica its sessions; fencing keeps a
// takeover safe even when the owner was only slow.
const (
	HeartbeatEvery = time.Second
	LeaseExpiry    = 5 * time.Second
)

// Heartbeat registers this replica (WithReplica's name) at url, where
// the other replicas forward the requests of the sessions it holds, or
// renews its registration: every lease it holds stays live for
// LeaseExpiry from now. Without WithReplica it does nothing.
func (d *DB) Heartbeat(ctx context.Context, url string) error {
	if d.leases.replica == "" {
		return nil
	}
	if d.closed.Load() {
		return store.ErrClosed
	}
	_, err := d.pool.Exec(ctx, `INSERT INTO replicas (id, url, heartbeat) VALUES ($1, $2, now())
		ON CONFLICT (id) DO UPDATE SET url = $2, heartbeat = now()`, d.leases.replica, url)
	if err != nil {
		return fmt.Errorf("store: heartbeat of replica %s: %w", d.leases.replica, err)
	}
	return nil
}

// Deregister removes this replica's registration, so that the others take
// its sessions over at once rather than after LeaseExpiry: a replica
// calls it when it stops serving.
func (d *DB) Deregister(ctx context.Context) error {
	if d.leases.replica == "" {
		return nil
	}
	if d.closed.Load() {
		return store.ErrClosed
	}
	if _, err := d.pool.Exec(ctx, "DELETE FROM replicas WHERE id = $1", d.leases.replica); err != nil {
		return fmt.Errorf("store: deregister replica %s: %w", d.leases.replica, err)
	}
	return nil
}

// ClusterSecret returns the secret the replicas of this database share
// (at least 32 random bytes), making it on first use. It never leaves the
// database but for the replicas, which sign forwarded requests with it.
func (d *DB) ClusterSecret(ctx context.Context) ([]byte, error) {
	fresh := make([]byte, 32)
	_, _ = rand.Read(fresh) // crypto/rand.Read never fails on Linux
	var secret []byte
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, "INSERT INTO cluster_secret (id, secret) VALUES (1, $1) ON CONFLICT (id) DO NOTHING", fresh); err != nil {
			return err
		}
		return tx.QueryRow(ctx, "SELECT secret FROM cluster_secret WHERE id = 1").Scan(&secret)
	})
	if err != nil {
		return nil, fmt.Errorf("store: the cluster's secret: %w", err)
	}
	return secret, nil
}

// Route says where the session is served: here, when this replica holds
// its lease at the epoch it took; at url, when another replica holds it
// and heartbeats (it is live); neither (false, "") when the session has
// no lease, its owner is dead, or the lease bears this replica's name at
// an epoch this process did not take (a previous run of it): then the
// replica that got the request may take the session over, from epoch
// (TakeOver; 0 without a lease). Without WithReplica every session is
// served here.
func (d *DB) Route(ctx context.Context, session string) (here bool, url string, epoch int64, err error) {
	if d.leases.replica == "" {
		return true, "", 0, nil
	}
	if d.closed.Load() {
		return false, "", 0, store.ErrClosed
	}
	var owner string
	var live bool
	err = d.pool.QueryRow(ctx, `SELECT l.owner, l.epoch, coalesce(r.url, ''),
			coalesce(r.heartbeat > now() - make_interval(secs => $2), false)
		FROM leases l LEFT JOIN replicas r ON r.id = l.owner WHERE l.session = $1`,
		session, LeaseExpiry.Seconds()).Scan(&owner, &epoch, &url, &live)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, "", 0, nil
	}
	if err != nil {
		return false, "", 0, fmt.Errorf("store: route session %q: %w", session, err)
	}
	mine, held := d.leases.epoch(session)
	// A takeover by this replica that committed after the row was read
	// (a concurrent request's) makes mine the newer epoch: it holds.
	if held && (epoch < mine || (owner == d.leases.replica && epoch == mine)) {
		return true, "", mine, nil
	}
	if held {
		d.leases.drop(session, mine)
	}
	if owner == d.leases.replica || !live {
		return false, "", epoch, nil
	}
	return false, url, epoch, nil
}

// TakeOver takes the session's lease for this replica if it is still at
// epoch, the one Route saw with a dead owner, and reports whether it did:
// of the replicas that find the owner dead at once, one takes the
// session, and the others learn that it lives elsewhere (Route again)
// rather than take it from each other in turn.
func (d *DB) TakeOver(ctx context.Context, session string, epoch int64) (bool, error) {
	if d.leases.replica == "" {
		return true, nil
	}
	var next int64
	err := d.tx(ctx, func(tx pgx.Tx) error {
		return tx.QueryRow(ctx, `UPDATE leases SET owner = $3, epoch = epoch + 1, renewed = now()
			WHERE session = $1 AND epoch = $2 RETURNING epoch`, session, epoch, d.leases.replica).Scan(&next)
	})
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: take the lease of %q over from epoch %d: %w", session, epoch, err)
	}
	d.leases.set(session, next)
	return true, nil
}
