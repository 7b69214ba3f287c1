package store

import (
	"context"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// Pin records hash as the current definition of key (e.g. an upstream's
// tool) and returns the hash stored before: "" the first time, equal to
// hash when nothing changed. An unchanged pin is answered from a read
// transaction, without a write or an fsync.
func (d *DB) Pin(ctx context.Context, key, hash string) (string, error) {
	if key == "" || hash == "" {
		return "", errors.New("store: pin: empty key or hash")
	}
	k := []byte(key)
	var prev string
	err := d.view(ctx, func(tx *bolt.Tx) error {
		prev = string(tx.Bucket(bucketPins).Get(k))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: pin %q: %w", key, err)
	}
	if prev == hash {
		return prev, nil
	}
	err = d.w.do(ctx, func(tx *bolt.Tx) error {
		pins := tx.Bucket(bucketPins)
		prev = string(pins.Get(k)) // again: it may have moved since the read
		if prev == hash {
			return nil
		}
		return abort(pins.Put(k, []byte(hash)))
	})
	if err != nil {
		return "", fmt.Errorf("store: pin %q: %w", key, err)
	}
	return prev, nil
}

// Pinned returns the hash pinned for key, "" when none is.
func (d *DB) Pinned(ctx context.Context, key string) (string, error) {
	var h string
	err := d.view(ctx, func(tx *bolt.Tx) error {
		h = string(tx.Bucket(bucketPins).Get([]byte(key)))
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("store: pinned %q: %w", key, err)
	}
	return h, nil
}
