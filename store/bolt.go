package store

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// The bbolt layout. Every key is a byte string; values are JSON.
//
//	sessions   id -> Session
//	events     id -> nested bucket: 8-byte big-endian seq -> Event
//	started    8-byte big-endian Started (UnixNano, sign bit flipped) + id -> empty
//	pins       key -> hash
//	meta       wal_applied -> the LSN of the last log frame copied in
//
// The started index lets Sessions walk newest first and stop at Since,
// Until or Limit without touching events. SystemLog has a session record
// (for its chain head) but no index entry.
var (
	bucketSessions = []byte("sessions")
	bucketEvents   = []byte("events")
	bucketStarted  = []byte("started")
	bucketPins     = []byte("pins")
	bucketMeta     = []byte("meta")
)

// DefaultLockTimeout is how long Open waits for a file that another
// process holds before it gives up.
const DefaultLockTimeout = 2 * time.Second

// DB is the bbolt implementation of Store. Writes go through one writer
// goroutine that group-commits them; reads are bbolt read transactions.
type DB struct {
	bolt *bolt.DB
	w    *writer
	j    *journal // nil in naive mode

	recovered int // events copied from the log at Open
	// logSessions: sessions' starts and ends go on the SystemLog chain
	// (sessionlog.go).
	logSessions bool
	// flagMu makes flag reviews one at a time (flags.go).
	flagMu sync.Mutex
}

var _ Store = (*DB)(nil)

// Option changes how Open opens the store.
type Option func(*options)

type options struct {
	lockTimeout time.Duration
	// naive commits each write in its own transaction, in the caller's
	// goroutine; it exists only as the benchmarks' baseline.
	naive bool
	// sessionLog: see WithSessionLog.
	sessionLog bool
}

// WithLockTimeout sets how long Open waits for a file locked by another
// process (DefaultLockTimeout if not given). It must be positive: zero
// would make bbolt wait forever.
func WithLockTimeout(d time.Duration) Option {
	return func(o *options) { o.lockTimeout = d }
}

// WithSessionLog keeps every session's start and end on the SystemLog
// chain, and has Verify check sessions and approvals against it (see
// sessionlog.go). A file opened once with it keeps doing so at every later
// Open, with it or not, so that no writer can quietly leave it out.
func WithSessionLog() Option {
	return func(o *options) { o.sessionLog = true }
}

// Open opens (creating it and its directories if needed) the store at path.
// If another process holds the file, Open fails after the lock timeout with
// an error that says so, instead of hanging.
func Open(path string, opts ...Option) (*DB, error) {
	o := options{lockTimeout: DefaultLockTimeout}
	for _, opt := range opts {
		opt(&o)
	}
	if path == "" {
		return nil, errors.New("store: open: empty path")
	}
	if o.lockTimeout <= 0 {
		return nil, fmt.Errorf("store: open %s: lock timeout must be positive, got %s", path, o.lockTimeout)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	// NoSync stays false: bbolt is crash-safe only when it fsyncs.
	bdb, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: o.lockTimeout})
	if errors.Is(err, bolterr.ErrTimeout) {
		return nil, fmt.Errorf("store: open %s: locked by another process (gave up after %s): %w", path, o.lockTimeout, err)
	}
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	err = bdb.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketSessions, bucketEvents, bucketStarted, bucketPins, bucketMeta} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("bucket %s: %w", name, err)
			}
		}
		return nil
	})
	if err != nil {
		_ = bdb.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	d := &DB{bolt: bdb}
	if !o.naive {
		// The log sits beside the bbolt file: path + "-wal".
		if d.j, d.recovered, err = openJournal(bdb, path+"-wal"); err != nil {
			_ = bdb.Close()
			return nil, fmt.Errorf("store: open %s: %w", path, err)
		}
	}
	d.w = newWriter(bdb, o.naive, d.j)
	if err := d.adoptSessions(context.Background(), o.sessionLog); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return d, nil
}

// Recovered is how many events Open found only in the write-ahead log (a
// crash left them there) and copied into the history. Open fails instead
// when it cannot recover every event that was acknowledged.
func (d *DB) Recovered() int { return d.recovered }

// Close finishes every write already queued, then closes the file. Calls
// made after Close return ErrClosed, and so does a second Close.
func (d *DB) Close() error {
	if err := d.w.close(); err != nil {
		return err
	}
	if d.j != nil {
		if err := d.j.close(); err != nil {
			_ = d.bolt.Close()
			return fmt.Errorf("store: close: %w", err)
		}
	}
	if err := d.bolt.Close(); err != nil {
		return fmt.Errorf("store: close: %w", err)
	}
	return nil
}

// view runs fn in a read transaction, after checking ctx and Close, and
// once every event already durable in the log is in bbolt.
func (d *DB) view(ctx context.Context, fn func(tx *bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if d.w.isClosed() {
		return ErrClosed
	}
	if d.j != nil {
		if err := d.j.flush(ctx); err != nil {
			return err
		}
	}
	err := d.bolt.View(fn)
	if errors.Is(err, bolterr.ErrDatabaseNotOpen) {
		return ErrClosed
	}
	return err
}

// seqKey is an event's key in its chain bucket: big-endian, so that
// bbolt's byte order is seq order.
func seqKey(seq uint64) []byte {
	k := make([]byte, 8)
	binary.BigEndian.PutUint64(k, seq)
	return k
}

// startedKey is a session's key in the started index. Flipping the sign
// bit keeps times before 1970 in order as unsigned bytes.
func startedKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano())^(1<<63))
	return append(k, id...)
}
