package store

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// EventsAfter returns up to limit events of sessionID whose seq is above
// after, in order: what a reader that has seen the chain up to after (an
// export sink's cursor) has not seen yet, without reading what it has.
// Events pruned by retention are not returned. The error wraps
// ErrNotFound if there is no such session.
func (d *DB) EventsAfter(ctx context.Context, sessionID string, after uint64, limit int) ([]Event, error) {
	if limit <= 0 {
		return nil, fmt.Errorf("store: events of %q after %d: limit %d is not positive", sessionID, after, limit)
	}
	var out []Event
	err := d.view(ctx, func(tx *bolt.Tx) error {
		chain, err := eventsBucket(tx, sessionID)
		if chain == nil {
			return err
		}
		c := chain.Cursor()
		for k, v := c.Seek(seqKey(after + 1)); k != nil && len(out) < limit; k, v = c.Next() {
			ev, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			out = append(out, ev)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of %q after %d: %w", sessionID, after, err)
	}
	return out, nil
}

// eventsBucket returns the bucket of sessionID's events: nil and no error for a
// session with none yet, nil and ErrNotFound for no such session.
func eventsBucket(tx *bolt.Tx, sessionID string) (*bolt.Bucket, error) {
	key := []byte(sessionID)
	if chain := tx.Bucket(bucketEvents).Bucket(key); chain != nil {
		return chain, nil
	}
	if tx.Bucket(bucketSessions).Get(key) == nil && sessionID != SystemLog {
		return nil, ErrNotFound
	}
	return nil, nil
}
