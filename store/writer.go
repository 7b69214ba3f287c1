package store

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"

	bolt "go.etcd.io/bbolt"
)

// writer group-commits bbolt writes. Callers queue an op and wait; one goroutine
// takes everything queued, applies it in one bbolt Update (one fsync) and
// answers each caller with its own error, then takes whatever queued up
// meanwhile. There is no timer: a lone caller is committed at once, and
// under load a round's batch is whatever arrived during the previous
// fsync. (bbolt's own db.Batch waits up to 10 ms for company instead.)
//
// Errors: an op's own error (a session that exists, an fn that fails)
// fails only that op, because ops check before they write. An op whose
// write fails mid-way (abortError) would leave half its writes in the
// transaction, so the transaction is rolled back, that op fails, and the
// rest of the round is retried in a new transaction. If the commit itself
// fails (disk full, fsync error) every op of that round fails with it.
//
// Appends do not queue here: they go through the log in their callers'
// goroutines (journal.go), and the writer only counts them in and out so
// that close can wait for them.
type writer struct {
	db    *bolt.DB
	naive bool
	j     *journal // appends go through the log; nil in naive mode

	mu       sync.Mutex
	pending  []*op
	closed   bool
	inFlight sync.WaitGroup // naive ops and appends in flight, waited for by close

	rounds atomic.Uint64 // transactions committed by the loop; tests read it

	wake chan struct{} // capacity 1: "pending is not empty"
	stop chan struct{} // closed by close
	done chan struct{} // closed when the loop has drained and exited
}

// op is one queued write. apply must check before it writes, may run more
// than once (a retried round), and reports write failures as abortError.
type op struct {
	ctx   context.Context
	apply func(tx *bolt.Tx) error
	taken bool // guarded by writer.mu: the loop owns it now
	err   error
	done  chan struct{}
}

// abortError marks a failure after an op began writing: the transaction
// must not commit with that op half applied.
type abortError struct{ err error }

func (e abortError) Error() string { return e.err.Error() }
func (e abortError) Unwrap() error { return e.err }

// abort wraps a write's error as an abortError; nil stays nil.
func abort(err error) error {
	if err == nil {
		return nil
	}
	return abortError{err}
}

func newWriter(db *bolt.DB, naive bool, j *journal) *writer {
	w := &writer{
		db:    db,
		naive: naive,
		j:     j,
		wake:  make(chan struct{}, 1),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	if naive {
		close(w.done)
	} else {
		go w.loop()
	}
	return w
}

// do queues apply and waits until it is durable or refused. If ctx ends
// before the loop takes the op, the op is withdrawn and ctx.Err() returned;
// once taken it completes and its own result is returned.
func (w *writer) do(ctx context.Context, apply func(tx *bolt.Tx) error) error {
	return w.queue(ctx, &op{ctx: ctx, apply: apply, done: make(chan struct{})})
}

// append makes r durable in the log, in the caller's goroutine, unless
// the store is closing.
func (w *writer) append(ctx context.Context, r *appendReq) error {
	return w.direct(ctx, func() error { return w.j.append(ctx, r) })
}

// direct runs write in the caller's goroutine, counted in flight so that
// close waits for it, unless ctx has ended or the store is closing.
func (w *writer) direct(ctx context.Context, write func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.inFlight.Add(1)
	w.mu.Unlock()
	defer w.inFlight.Done()
	return write()
}

func (w *writer) queue(ctx context.Context, o *op) error {
	if w.naive {
		return w.direct(ctx, func() error { return w.commitOne(o) })
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.pending = append(w.pending, o)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already due
	}

	select {
	case <-o.done:
		return o.err
	case <-ctx.Done():
	}
	w.mu.Lock()
	if !o.taken {
		for i, p := range w.pending {
			if p == o {
				w.pending = append(w.pending[:i], w.pending[i+1:]...)
				break
			}
		}
		w.mu.Unlock()
		return ctx.Err()
	}
	w.mu.Unlock()
	<-o.done
	return o.err
}

// commitOne is the naive path: one Update, so one fsync, per write.
func (w *writer) commitOne(o *op) error {
	if err := w.db.Update(o.apply); err != nil {
		var ab abortError
		if errors.As(err, &ab) {
			return ab.err
		}
		return err
	}
	return nil
}

func (w *writer) loop() {
	defer close(w.done)
	for {
		select {
		case <-w.wake:
		case <-w.stop:
		}
		// Callers woken by the last commit are often about to queue
		// again; one yield lets them, so the round is larger. It is not a
		// timer: with nothing else runnable it returns at once.
		runtime.Gosched()
		w.mu.Lock()
		batch := w.pending
		w.pending = nil
		for _, o := range batch {
			o.taken = true
		}
		closed := w.closed
		w.mu.Unlock()
		if len(batch) > 0 {
			w.commit(batch)
		}
		// Once closed is set nothing more is queued, so this round held
		// the last writes.
		if closed {
			return
		}
	}
}

// commit applies one round in one transaction and answers each op.
func (w *writer) commit(batch []*op) {
	live := batch[:0]
	for _, o := range batch {
		// A caller whose ctx ended before the round took it gets
		// ctx.Err() and its write does not happen.
		if err := o.ctx.Err(); err != nil {
			w.finish(o, err)
			continue
		}
		live = append(live, o)
	}
	w.commitBolt(live)
}

// commitBolt applies bbolt writes in one transaction and answers each.
func (w *writer) commitBolt(live []*op) {
	for len(live) > 0 {
		errs := make([]error, len(live))
		failed := -1
		err := w.db.Update(func(tx *bolt.Tx) error {
			for i, o := range live {
				err := o.apply(tx)
				var ab abortError
				if errors.As(err, &ab) {
					failed = i
					return err
				}
				errs[i] = err
			}
			return nil
		})
		w.rounds.Add(1)
		if failed >= 0 {
			w.finish(live[failed], fmt.Errorf("store: write: %w", errors.Unwrap(err)))
			live = append(live[:failed:failed], live[failed+1:]...)
			continue
		}
		for i, o := range live {
			if err != nil {
				w.finish(o, fmt.Errorf("store: commit: %w", err))
			} else {
				w.finish(o, errs[i])
			}
		}
		return
	}
}

func (w *writer) finish(o *op, err error) {
	o.err = err
	close(o.done)
}

func (w *writer) isClosed() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.closed
}

// close refuses new writes, waits for the queued ones to commit and for
// the loop to exit.
func (w *writer) close() error {
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		return ErrClosed
	}
	w.closed = true
	w.mu.Unlock()
	close(w.stop)
	w.inFlight.Wait()
	<-w.done
	return nil
}
