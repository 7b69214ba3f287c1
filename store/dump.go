package store

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Pins returns every pin (tool definitions and exposed names), by key:
// what copying the history elsewhere (warden migrate) needs besides the
// Store's reads.
func (d *DB) Pins(ctx context.Context) (map[string]string, error) {
	out := map[string]string{}
	err := d.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketPins).ForEach(func(k, v []byte) error {
			out[string(k)] = string(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: pins: %w", err)
	}
	return out, nil
}

// SavedBaselines returns every agent's saved baseline, by agent.
func (d *DB) SavedBaselines(ctx context.Context) (map[string]json.RawMessage, error) {
	out := map[string]json.RawMessage{}
	err := d.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketBaselines)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = append(json.RawMessage(nil), v...)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: baselines: %w", err)
	}
	return out, nil
}
