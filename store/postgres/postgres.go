// Package postgres implements store.Store on PostgreSQL (pgx), with the
// bbolt store's guarantees: every write is one committed transaction
// (synchronous_commit on, so the commit is on disk before it returns;
// concurrent commits share WAL flushes), each session's chain is extended
// with its session row locked, and approvals are decided in a transaction
// that holds the approval's row, so exactly one decision wins. Records are
// stored as the bbolt store's JSON, so events hash the same in both.
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/warden-dev/warden/store"
)

// defaultMaxConns is the pool's size unless the URL sets pool_max_conns.
const defaultMaxConns = 32

// DB is a store.Store on a PostgreSQL database.
type DB struct {
	pool   *pgxpool.Pool
	closed atomic.Bool
	leases leases
	pruned atomic.Int64 // when Count last pruned the counters, Unix ns
}

var _ store.Store = (*DB)(nil)

// Open connects to the database at url and applies the migrations it
// lacks. Errors never include url: it may hold a password.
func Open(ctx context.Context, url string, opts ...Option) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, errors.New("postgres: the connection URL does not parse (it is not shown: it may hold a password)")
	}
	// Durability is the store's promise, whatever the server's default.
	cfg.ConnConfig.RuntimeParams["synchronous_commit"] = "on"
	// Concurrent appends share WAL flushes only if they commit at once:
	// pgxpool's default (4 connections on a small host) would queue
	// them. The URL's pool_max_conns still wins.
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		pool.Close()
		return nil, err
	}
	d := &DB{pool: pool}
	for _, o := range opts {
		o(d)
	}
	return d, nil
}

// Close releases the connections. Every write has committed when it
// returned, so there is nothing to finish.
func (d *DB) Close() error {
	if d.closed.Swap(true) {
		return nil
	}
	d.pool.Close()
	return nil
}

// tx runs fn in one transaction and commits it; an error from fn rolls it
// back and is returned as is.
func (d *DB) tx(ctx context.Context, fn func(pgx.Tx) error) error {
	if d.closed.Load() {
		return store.ErrClosed
	}
	return pgx.BeginFunc(ctx, d.pool, fn)
}

// query is a read outside any transaction of ours.
func (d *DB) query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	return d.pool.Query(ctx, sql, args...)
}

// notFound turns pgx's no-rows into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// collect decodes each row's one column, a record's JSON body.
func collect[T any](rows pgx.Rows, decode func([]byte) (T, error)) ([]T, error) {
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (T, error) {
		var body []byte
		if err := r.Scan(&body); err != nil {
			var zero T
			return zero, err
		}
		return decode(body)
	})
}

func decodeJSON[T any](b []byte) (T, error) {
	var v T
	err := json.Unmarshal(b, &v)
	return v, err
}
