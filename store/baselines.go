package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// bucketBaselines holds each agent's learned behaviour baseline
// (baselines -> agent name -> the supervisor's JSON). The store keeps it
// opaque: the model is the supervisor's. The bucket is made by the first
// SaveBaseline; a missing one reads as empty.
var bucketBaselines = []byte("baselines")

// Baselines is what a store offers to keep agents' baselines. It is not
// part of Store, so that other backends need not have it: the supervisor
// learns a baseline from history when its store has none.
type Baselines interface {
	// SaveBaseline records the agent's baseline, replacing the last one.
	SaveBaseline(ctx context.Context, agent string, data json.RawMessage) error
	// Baseline returns the agent's last saved baseline; the error wraps
	// ErrNotFound when none was saved.
	Baseline(ctx context.Context, agent string) (json.RawMessage, error)
}

var _ Baselines = (*DB)(nil)

// SaveBaseline records the agent's baseline durably.
func (d *DB) SaveBaseline(ctx context.Context, agent string, data json.RawMessage) error {
	if agent == "" {
		return errors.New("store: save baseline: empty agent")
	}
	if !json.Valid(data) {
		return fmt.Errorf("store: baseline of %q: not valid JSON", agent)
	}
	val := append([]byte(nil), data...)
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bucketBaselines)
		if err != nil {
			return abort(fmt.Errorf("bucket %s: %w", bucketBaselines, err))
		}
		return abort(b.Put([]byte(agent), val))
	})
	if err != nil {
		return fmt.Errorf("store: baseline of %q: %w", agent, err)
	}
	return nil
}

// Baseline returns the agent's last saved baseline.
func (d *DB) Baseline(ctx context.Context, agent string) (json.RawMessage, error) {
	var out json.RawMessage
	err := d.view(ctx, func(tx *bolt.Tx) error {
		if b := tx.Bucket(bucketBaselines); b != nil {
			if v := b.Get([]byte(agent)); v != nil {
				out = append(json.RawMessage(nil), v...)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: baseline of %q: %w", agent, err)
	}
	if out == nil {
		return nil, fmt.Errorf("store: baseline of %q: %w", agent, ErrNotFound)
	}
	return out, nil
}
