package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangePolicy is the kind of change Watch reports when a replica
// announces the policy it loaded; subject: the policy's digest.
const ChangePolicy = "policy"

// ReplicaPolicy is the policy one replica runs.
type ReplicaPolicy struct {
	Replica string
	Digest  string
	Loaded  time.Time // when it recorded it
	Problem string    // why it does not run the announced one; "" when it does
}

// Policies are the policy last announced and those the replicas run.
type Policies struct {
	Announced   string // digest; "" when none was
	AnnouncedBy string
	At          time.Time
	Replicas    []ReplicaPolicy // by replica name
}

// AnnouncePolicy records that this replica loaded the policy of digest,
// as the one every replica should run, and notifies them in the same
// transaction (a 'policy' change).
func (d *DB) AnnouncePolicy(ctx context.Context, digest string) error {
	if err := d.policyWriter(digest); err != nil {
		return err
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		if err := putPolicy(ctx, tx, d.leases.replica, digest, ""); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO policy_announced (digest, replica) VALUES ($1, $2)
			ON CONFLICT (one) DO UPDATE SET digest = $1, replica = $2, at = clock_timestamp()`, digest, d.leases.replica); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, "INSERT INTO changes (kind, subject) VALUES ($1, $2)", ChangePolicy, digest); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", changesChannel, ChangePolicy)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: announce policy %s: %w", digest, err)
	}
	return nil
}

// RecordPolicy records the policy this replica runs and, when it is not
// the announced one, why (problem), without announcing anything.
func (d *DB) RecordPolicy(ctx context.Context, digest, problem string) error {
	if err := d.policyWriter(digest); err != nil {
		return err
	}
	if err := d.tx(ctx, func(tx pgx.Tx) error { return putPolicy(ctx, tx, d.leases.replica, digest, problem) }); err != nil {
		return fmt.Errorf("store: record policy %s: %w", digest, err)
	}
	return nil
}

// Policies returns the policy last announced and each replica's.
func (d *DB) Policies(ctx context.Context) (Policies, error) {
	var p Policies
	err := d.tx(ctx, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, "SELECT digest, replica, at FROM policy_announced").Scan(&p.Announced, &p.AnnouncedBy, &p.At)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		rows, err := tx.Query(ctx, "SELECT replica, digest, loaded, problem FROM replica_policies ORDER BY replica")
		if err != nil {
			return err
		}
		p.Replicas, err = pgx.CollectRows(rows, pgx.RowToStructByPos[ReplicaPolicy])
		return err
	})
	if err != nil {
		return Policies{}, fmt.Errorf("store: policies: %w", err)
	}
	return p, nil
}

// policyWriter checks that this store may record a policy: a replica's.
func (d *DB) policyWriter(digest string) error {
	switch {
	case d.leases.replica == "":
		return errors.New("store: a policy is recorded by a replica (WithReplica), and this store is none")
	case digest == "":
		return errors.New("store: record policy: empty digest")
	}
	return nil
}

func putPolicy(ctx context.Context, tx pgx.Tx, replica, digest, problem string) error {
	_, err := tx.Exec(ctx, `INSERT INTO replica_policies (replica, digest, problem) VALUES ($1, $2, $3)
		ON CONFLICT (replica) DO UPDATE SET digest = $2, problem = $3, loaded = clock_timestamp()`, replica, digest, problem)
	return err
}
