package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// countersPrune is how often Count deletes the windows that are over.
const countersPrune = time.Minute

// nowMS is the database's clock in milliseconds since the epoch: every
// replica's windows are cut on the same clock.
const nowMS = "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"

// Count adds one to key's counter in the fixed window of length per that
// holds the database's present time, unless the counter is at max
// already. It returns whether it counted, the window (for Uncount), and
// how long until that window ends. The upsert is one atomic statement:
// replicas counting the same key at once queue on its row, and at most
// max of them count in one window.
func (d *DB) Count(ctx context.Context, key string, per time.Duration, max int) (counted bool, window int64, left time.Duration, err error) {
	ms := per.Milliseconds()
	if ms <= 0 || max <= 0 {
		return false, 0, 0, fmt.Errorf("store: count %q: window %v and max %d must be positive", key, per, max)
	}
	if d.closed.Load() {
		return false, 0, 0, errClosedCount(key)
	}
	d.pruneCounters(ctx)
	var n int
	var leftMS int64
	err = d.pool.QueryRow(ctx, `WITH w AS (SELECT `+nowMS+` AS now)
		INSERT INTO counters (key, start_ms, end_ms, n)
			SELECT $1, now - now % $2, now - now % $2 + $2, 1 FROM w
		ON CONFLICT (key, start_ms) DO UPDATE SET n = counters.n + 1 WHERE counters.n < $3
		RETURNING start_ms, n, end_ms - (SELECT now FROM w)`, []byte(key), ms, max).Scan(&window, &n, &leftMS)
	if errors.Is(err, pgx.ErrNoRows) {
		// At max: the window is the one in force now.
		err = d.pool.QueryRow(ctx, `SELECT now - now % $1, $1 - now % $1 FROM (SELECT `+nowMS+` AS now) w`, ms).Scan(&window, &leftMS)
		if err != nil {
			return false, 0, 0, fmt.Errorf("store: count %q: %w", key, err)
		}
		return false, window, time.Duration(leftMS) * time.Millisecond, nil
	}
	if err != nil {
		return false, 0, 0, fmt.Errorf("store: count %q: %w", key, err)
	}
	return true, window, time.Duration(leftMS) * time.Millisecond, nil
}

// Uncount gives back one unit that Count counted in window, for a call
// that did not go ahead after all.
func (d *DB) Uncount(ctx context.Context, key string, window int64) error {
	if d.closed.Load() {
		return errClosedCount(key)
	}
	if _, err := d.pool.Exec(ctx, "UPDATE counters SET n = n - 1 WHERE key = $1 AND start_ms = $2 AND n > 0", []byte(key), window); err != nil {
		return fmt.Errorf("store: give back a unit of %q: %w", key, err)
	}
	return nil
}

// pruneCounters deletes the windows that ended, at most every
// countersPrune; a failure is left to the next time.
func (d *DB) pruneCounters(ctx context.Context) {
	now := time.Now().UnixNano()
	last := d.pruned.Load()
	if now-last < int64(countersPrune) || !d.pruned.CompareAndSwap(last, now) {
		return
	}
	_, _ = d.pool.Exec(ctx, "DELETE FROM counters WHERE end_ms < "+nowMS)
}

func errClosedCount(key string) error {
	return fmt.Errorf("store: count %q: %w", key, store.ErrClosed)
}
