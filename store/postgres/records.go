package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Pin records hash under key and returns what was there before; the row
// is locked, so two pins of one key see each other's value.
func (d *DB) Pin(ctx context.Context, key, hash string) (string, error) {
	if key == "" || hash == "" {
		return "", errors.New("store: pin: empty key or hash")
	}
	var prev string
	err := d.tx(ctx, func(tx pgx.Tx) error {
		// The insert takes the row (or waits for whoever holds it); the
		// select then reads it locked.
		if _, err := tx.Exec(ctx, "INSERT INTO pins (key, value) VALUES ($1, '') ON CONFLICT (key) DO NOTHING", key); err != nil {
			return err
		}
		if err := tx.QueryRow(ctx, "SELECT value FROM pins WHERE key = $1 FOR UPDATE", key).Scan(&prev); err != nil {
			return err
		}
		if prev == hash {
			return nil
		}
		_, err := tx.Exec(ctx, "UPDATE pins SET value = $2 WHERE key = $1", key, hash)
		return err
	})
	if err != nil {
		return "", fmt.Errorf("store: pin %q: %w", key, err)
	}
	return prev, nil
}

// Pinned returns the hash pinned for key, "" when none is.
func (d *DB) Pinned(ctx context.Context, key string) (string, error) {
	if d.closed.Load() {
		return "", store.ErrClosed
	}
	var h string
	err := d.pool.QueryRow(ctx, "SELECT value FROM pins WHERE key = $1", key).Scan(&h)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return "", fmt.Errorf("store: pinned %q: %w", key, err)
	}
	return h, nil
}

// SetAgentSuspended records an agent as suspended or restored.
func (d *DB) SetAgentSuspended(ctx context.Context, rec store.AgentRecord) error {
	if rec.Name == "" {
		return errors.New("store: agent record: empty name")
	}
	if rec.Changed.IsZero() {
		rec.Changed = time.Now()
	}
	rec.Changed = rec.Changed.UTC()
	err := d.tx(ctx, func(tx pgx.Tx) error {
		// Waits for the calls of the agent being recorded (suspended.go).
		if _, err := tx.Exec(ctx, fmt.Sprintf(agentLock, "", "$1::text"), rec.Name); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, "INSERT INTO agents (name, body) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE SET body = EXCLUDED.body", rec.Name, mustJSON(&rec))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: agent %q: %w", rec.Name, err)
	}
	return nil
}

// AgentRecords returns every recorded agent by name.
func (d *DB) AgentRecords(ctx context.Context) (map[string]store.AgentRecord, error) {
	rows, err := d.query(ctx, "SELECT body FROM agents")
	if err != nil {
		return nil, fmt.Errorf("store: agents: %w", err)
	}
	list, err := collect(rows, decodeJSON[store.AgentRecord])
	if err != nil {
		return nil, fmt.Errorf("store: agents: %w", err)
	}
	out := make(map[string]store.AgentRecord, len(list))
	for _, rec := range list {
		out[rec.Name] = rec
	}
	return out, nil
}

var _ store.Baselines = (*DB)(nil)

// SaveBaseline records the agent's baseline, replacing the last one.
func (d *DB) SaveBaseline(ctx context.Context, agent string, data json.RawMessage) error {
	if agent == "" {
		return errors.New("store: save baseline: empty agent")
	}
	if !json.Valid(data) {
		return fmt.Errorf("store: baseline of %q: not valid JSON", agent)
	}
	err := d.tx(ctx, func(tx pgx.Tx) error {
		_, err := tx.Exec(ctx, "INSERT INTO baselines (agent, data) VALUES ($1, $2) ON CONFLICT (agent) DO UPDATE SET data = EXCLUDED.data", agent, []byte(data))
		return err
	})
	if err != nil {
		return fmt.Errorf("store: baseline of %q: %w", agent, err)
	}
	return nil
}

// Baseline returns the agent's last saved baseline; the error wraps
// store.ErrNotFound when none was saved.
func (d *DB) Baseline(ctx context.Context, agent string) (json.RawMessage, error) {
	if d.closed.Load() {
		return nil, store.ErrClosed
	}
	var data []byte
	if err := d.pool.QueryRow(ctx, "SELECT data FROM baselines WHERE agent = $1", agent).Scan(&data); err != nil {
		return nil, fmt.Errorf("store: baseline of %q: %w", agent, notFound(err))
	}
	return data, nil
}
