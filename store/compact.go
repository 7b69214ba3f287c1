package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// Compaction gives back the disk space that pruning freed: bbolt reuses
// freed pages but never shrinks its file. It is offline (the store must
// not be open anywhere) because the journal and every reader hold the
// open *bolt.DB; swapping the file under them would need the journal's
// cooperation. warden compacts at start when enough of the file is free,
// and `warden compact` does it on demand.

// compactTxMaxSize bounds one transaction of the copy, so that a large
// file is copied in bounded memory.
const compactTxMaxSize = 64 << 20

// CompactResult says what Compact did.
type CompactResult struct {
	Before, After int64 // file sizes in bytes
	Free          int64 // bytes of free pages found before
	Skipped       bool  // less than the threshold was free: nothing done
}

// Compact rewrites the store file at path without its free pages, when at
// least minFree of the file (a fraction, 0 to always) is free. It first
// opens the store as Open does, so that whatever the log holds is in the
// file, and closes it again. The new file is written beside the old one,
// fsync'd and renamed over it, so a crash leaves one or the other whole.
// It fails if another process holds the file.
func Compact(ctx context.Context, path string, minFree float64, opts ...Option) (CompactResult, error) {
	var res CompactResult
	db, err := Open(path, opts...)
	if err != nil {
		return res, fmt.Errorf("store: compact: %w", err)
	}
	if err := db.Close(); err != nil {
		return res, fmt.Errorf("store: compact: %w", err)
	}
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	src, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, bolterr.ErrTimeout) {
		return res, fmt.Errorf("store: compact %s: locked by another process (stop warden first): %w", path, err)
	}
	if err != nil {
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	defer src.Close()
	err = src.View(func(tx *bolt.Tx) error {
		res.Before = tx.Size()
		return nil
	})
	if err != nil {
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	st := src.Stats()
	res.Free = int64(st.FreePageN+st.PendingPageN) * int64(src.Info().PageSize)
	if res.Before == 0 || float64(res.Free) < minFree*float64(res.Before) {
		res.Skipped, res.After = true, res.Before
		return res, nil
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	tmp := path + ".compact"
	_ = os.Remove(tmp) // a crashed compaction's leftover; never the store itself
	dst, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if err != nil {
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	if err := bolt.Compact(dst, src, compactTxMaxSize); err != nil {
		_ = dst.Close()
		_ = os.Remove(tmp)
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	// bbolt fsyncs every commit, so the copy is durable once closed.
	if err := dst.Close(); err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		return res, fmt.Errorf("store: compact %s: %w", path, err)
	}
	res.After = fi.Size()
	return res, nil
}
