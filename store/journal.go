package store

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
)

// walResetSize is how large the log may grow before an appender waits for
// bbolt to catch up and empties it.
const walResetSize = 16 << 20

// journal carries appends through the log (wal.go) into bbolt. Appends
// are written and made durable in their callers' goroutines, with no
// hand-off on the way: a caller chains and frames its event under wmu,
// then waits for a write and fdatasync that cover it. If none is running
// it runs them itself (the leader): one write of every frame stamped so
// far, one fdatasync; of the callers that frame while it runs, the first
// waits for it to end and then leads the next, covering all of them, and
// the others wait for that next one (group commit without a timer or a
// syncer goroutine, each caller woken once: each hand-off
// between goroutines costs tens of microseconds on a loaded machine, and
// a system call under wmu would hold up every appender). A copier
// goroutine then puts durable records into bbolt. Reads that must see
// every durable event call flush first.
type journal struct {
	bolt *bolt.DB
	wal  *wal
	// syncLog is the log's fdatasync (wal.sync); a field so that a test
	// can hold a sync in flight and see who leads the next.
	syncLog func() error

	// wmu serialises chaining (heads), framing and emptying the log. It
	// is held only for that, never across a write or an fdatasync of an
	// append.
	wmu   sync.Mutex
	heads map[string]chainHead // by session; under wmu

	mu       sync.Mutex
	put      uint64        // the LSN of the last frame stamped
	durable  uint64        // the LSN up to which the log is durable
	framed   []byte        // frames stamped, not yet written to the log
	spare    []byte        // a buffer for framed, kept between leaders
	unsynced []walRecord   // stamped, not yet durable, in LSN order
	spareRec []walRecord   // a buffer for unsynced, kept between leaders
	syncing  bool          // a leader is running an fdatasync
	covers   uint64        // the LSN up to which the running fdatasync makes the log durable
	synced   chan struct{} // closed and replaced when an fdatasync ends
	next     chan struct{} // nil, or what synced becomes when the running fdatasync ends
	nextLead bool          // an appender the running fdatasync does not cover will lead the next
	waiting  int           // appenders waiting for an fdatasync to end; a test reads it
	wakes    atomic.Uint64 // appenders woken by the end of an fdatasync; a test reads it
	queue    []walRecord   // durable in the log, not yet in bbolt
	spareQ   []walRecord   // a buffer for queue, kept between copies
	written  uint64        // records made durable
	applied  uint64        // records copied into bbolt
	err      error         // the journal failed: appends are refused from then on
	changed  chan struct{} // closed and replaced when applied or err moves
	wake     chan struct{} // capacity 1: the queue is not empty
	urgent   chan struct{} // capacity 1: a reader waits for the copy
	stop     chan struct{}
	done     chan struct{}

	syncs    atomic.Uint64 // fdatasyncs of the log; tests and benchmarks read it
	syncTime atomic.Int64  // nanoseconds spent in them (LogStats)
	appends  atomic.Uint64 // appends made durable (LogStats)
	waited   atomic.Int64  // nanoseconds appenders waited for durability (LogStats)
}

// maxHeads bounds the cache of chain heads (one per session written to).
const maxHeads = 100_000

// copyEvery paces the copier: a bbolt commit shares the disk with the log's
// fdatasyncs, so copies are batched, at most one per copyEvery, unless a
// reader is waiting or the queue is long.
const (
	copyEvery    = 50 * time.Millisecond
	copyMaxQueue = 4096
)

// chainHead is the last event of a chain: its seq and hash.
type chainHead struct {
	seq  uint64
	hash string
}

// appendReq is one Append on its way into the log.
type appendReq struct {
	session string
	ev      Event // normalised; Seq, Prev and Hash are set by the journal
	setData bool
	data    json.RawMessage
	out     Event
}

// openJournal opens the log beside the bbolt file, copies into bbolt
// whatever a crash left in it, replaces it with a new, empty log, and
// starts the copier. It refuses, wrapping ErrLogDamaged, when the log and
// bbolt between them may not hold every acknowledged event; recovered is
// how many events it copied from the log.
func openJournal(bdb *bolt.DB, path string) (j *journal, recovered int, err error) {
	var applied uint64
	if err := bdb.View(func(tx *bolt.Tx) error { applied = appliedLSN(tx); return nil }); err != nil {
		return nil, 0, fmt.Errorf("read the log position: %w", err)
	}
	old, err := readLog(path)
	if err != nil {
		return nil, 0, err
	}
	if old.exists && !old.v1 {
		// bbolt must have everything before the log's first frame, and
		// nothing the log lost: what followed a lost frame is unknown.
		if old.base > applied {
			return nil, 0, damaged(path, "it starts after log sequence number %d, but the history has only reached %d", old.base, applied)
		}
		if applied > old.last() {
			return nil, 0, damaged(path, "the history has copied up to log sequence number %d, but the log can be read only to %d", applied, old.last())
		}
	}
	if len(old.recs) > 0 {
		if err := bdb.Update(func(tx *bolt.Tx) error { return applyRecords(tx, old.recs) }); err != nil {
			return nil, 0, fmt.Errorf("recover %d logged events from %s into bbolt: %w", len(old.recs), path, err)
		}
	}
	// Always a new file: nothing an earlier run left beyond the readable
	// end (a torn frame, then an intact one) can ever be read again.
	w, err := createWAL(path, old.epoch+1, max(applied, old.last()))
	if err != nil {
		return nil, 0, err
	}
	j = &journal{
		bolt: bdb, wal: w, syncLog: w.sync, heads: map[string]chainHead{},
		put: w.lsn, durable: w.lsn,
		synced:  make(chan struct{}),
		changed: make(chan struct{}), wake: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
	}
	go j.copier()
	return j, len(old.recs), nil
}

// append chains r to its session's head, frames it for the log and
// returns once it is durable. A ctx that ends before the event is framed
// withdraws it; once framed it is waited for whatever ctx does, as it will
// be in the log and in the history.
func (j *journal) append(ctx context.Context, r *appendReq) error {
	j.wmu.Lock()
	lsn, err := j.write(ctx, r)
	j.wmu.Unlock()
	if err != nil {
		return err
	}
	return j.syncTo(lsn)
}

// write chains r to its session's head and frames it for the log, where
// the next sync leader writes it, and returns its LSN. The caller holds
// wmu.
func (j *journal) write(ctx context.Context, r *appendReq) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	if err := j.failure(); err != nil {
		return 0, err
	}
	// Empty the log first, before r is framed: r is then put under the
	// header it is stamped for.
	if j.wal.end > walResetSize {
		j.compact()
		if err := j.failure(); err != nil {
			return 0, err
		}
	}
	if len(j.heads) >= maxHeads {
		// The cache only spares bbolt reads: once everything logged is in
		// bbolt, it can be dropped and filled again from there.
		if j.waitSynced() == nil && j.flush(context.Background()) == nil {
			clear(j.heads)
		}
	}
	h, err := j.head(r.session)
	if err != nil {
		return 0, err
	}
	e := r.ev
	e.Seq, e.Prev = h.seq+1, h.hash
	val, err := sealEvent(&e)
	if err != nil {
		return 0, fmt.Errorf("store: append to %q: %w", r.session, err)
	}
	rec := walRecord{Session: r.session, Seq: e.Seq, Hash: e.Hash, Time: e.Time, Event: val, SetData: r.setData, Data: r.data}
	// Framed straight into the buffer the next leader writes: no frame of
	// its own to allocate and copy. wal's stamping is under wmu, held.
	j.mu.Lock()
	framed, err := j.wal.appendFrame(j.framed, &rec)
	if err != nil {
		j.mu.Unlock()
		return 0, fmt.Errorf("store: append to %q: %w", r.session, err)
	}
	j.framed = framed
	j.put = rec.LSN
	j.unsynced = append(j.unsynced, rec)
	j.mu.Unlock()
	j.heads[r.session] = chainHead{e.Seq, e.Hash}
	r.out = e
	return rec.LSN, nil
}

// syncTo returns once the log is durable up to lsn, or the journal has
// failed. If no leader is running the caller leads: it writes every frame
// stamped so far and runs one fdatasync for them. Otherwise it waits: for
// the running fdatasync if that covers lsn; if not, the first such caller
// waits for it to end and then leads the next, and the others wait for
// that next one only, so that each is woken once, when its event is
// durable, rather than by every fdatasync that ends meanwhile (each
// needless wake-up costs CPU, and crowds the run queue just when the next
// leader needs a core). A failed write or fdatasync fails the journal: a
// failed write may have left part of a frame in the log, and after a
// failed sync nothing can be trusted to have reached the disk, so the
// store stops taking appends (fail closed) rather than chain on from an
// unknown state.
func (j *journal) syncTo(lsn uint64) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.durable < lsn && j.err == nil {
		if j.syncing {
			ch := j.synced
			if lsn > j.covers {
				if j.nextLead {
					if j.next == nil {
						j.next = make(chan struct{})
					}
					ch = j.next
				}
				j.nextLead = true
			}
			j.waiting++
			j.mu.Unlock()
			<-ch
			j.wakes.Add(1)
			j.mu.Lock()
			j.waiting--
			continue
		}
		j.syncing = true
		target, recs, buf := j.put, j.unsynced, j.framed
		j.covers = target
		j.unsynced, j.framed, j.spare, j.spareRec = j.spareRec, j.spare, nil, nil
		j.mu.Unlock()
		err := j.wal.write(buf)
		if err == nil {
			began := time.Now()
			err = j.syncLog()
			j.syncTime.Add(int64(time.Since(began)))
			j.syncs.Add(1)
		}
		j.mu.Lock()
		j.syncing = false
		j.spare = buf[:0]
		if err != nil {
			j.failLocked(fmt.Errorf("store: append: %w", err))
		} else {
			j.durable = target
			j.queue = append(j.queue, recs...)
			clear(recs) // the queue holds them now; this buffer is the next leader's
			j.spareRec = recs[:0]
			j.written += uint64(len(recs))
			select {
			case j.wake <- struct{}{}:
			default:
			}
		}
		close(j.synced)
		j.synced, j.next, j.nextLead = j.next, nil, false
		if j.synced == nil {
			j.synced = make(chan struct{})
		}
	}
	if j.durable >= lsn {
		return nil
	}
	return j.err
}

// waitSynced waits until everything written to the log is durable.
func (j *journal) waitSynced() error {
	j.mu.Lock()
	put := j.put
	j.mu.Unlock()
	return j.syncTo(put)
}

// fail records err as the store's failure, unless one is recorded already,
// wakes every waiter, and returns the failure now in force. It is the one
// way the journal fails: appends are refused from then on, and nothing
// more is copied into bbolt.
func (j *journal) fail(err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.failLocked(err)
}

// failLocked is fail with j.mu held.
func (j *journal) failLocked(err error) error {
	if j.err == nil {
		j.err = err
	}
	close(j.changed)
	j.changed = make(chan struct{})
	// Appenders waiting for a sync learn of the failure now: no sync may
	// ever run again for those waiting for the next one.
	close(j.synced)
	j.synced = make(chan struct{})
	if j.next != nil {
		close(j.next)
		j.next = nil
	}
	j.nextLead = false
	return j.err
}

// head returns the chain head of session: from the cache, or bbolt. The
// caller holds wmu.
func (j *journal) head(session string) (chainHead, error) {
	if h, ok := j.heads[session]; ok {
		return h, nil
	}
	var h chainHead
	err := j.bolt.View(func(tx *bolt.Tx) error {
		raw := tx.Bucket(bucketSessions).Get([]byte(session))
		if raw == nil {
			if session == SystemLog {
				return nil
			}
			return fmt.Errorf("store: append to %q: %w", session, ErrNotFound)
		}
		rec, err := decodeSession(raw)
		if err != nil {
			return fmt.Errorf("store: append to %q: %w", session, err)
		}
		h = chainHead{rec.LastSeq, rec.Head}
		return nil
	})
	return h, err
}

// copier puts durable records into bbolt, a batch per transaction, until
// stopped with nothing left to copy.
func (j *journal) copier() {
	defer close(j.done)
	pace := time.NewTimer(0)
	defer pace.Stop()
	for {
		select {
		case <-j.wake:
		case <-j.urgent:
		case <-j.stop:
		}
		// Wait out the pace, unless a reader or a long queue cannot.
		j.mu.Lock()
		long := len(j.queue) >= copyMaxQueue
		j.mu.Unlock()
		if !long {
			select {
			case <-pace.C:
			case <-j.urgent:
			case <-j.stop:
			}
		}
		j.mu.Lock()
		batch := j.queue
		j.queue, j.spareQ = j.spareQ, nil
		failed := j.err != nil
		j.mu.Unlock()
		// After a failure nothing more is copied: bbolt must not get
		// later events with earlier ones missing. The log keeps them all
		// for the next start.
		if len(batch) > 0 && !failed {
			if err := j.bolt.Update(func(tx *bolt.Tx) error { return applyRecords(tx, batch) }); err != nil {
				j.fail(fmt.Errorf("store: copy the log into bbolt: %w", err))
			} else {
				clear(batch) // the next copy's buffer: let go of the events
				j.mu.Lock()
				j.applied += uint64(len(batch))
				j.spareQ = batch[:0]
				close(j.changed)
				j.changed = make(chan struct{})
				j.mu.Unlock()
			}
		}
		if !pace.Stop() {
			select {
			case <-pace.C:
			default:
			}
		}
		pace.Reset(copyEvery)
		select {
		case <-j.stop:
			j.mu.Lock()
			empty := len(j.queue) == 0
			j.mu.Unlock()
			if empty {
				return
			}
		default:
		}
	}
}

func (j *journal) failure() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.err
}

// flush waits until every record durable when it was called is in bbolt.
func (j *journal) flush(ctx context.Context) error {
	select {
	case j.urgent <- struct{}{}:
	default:
	}
	j.mu.Lock()
	target := j.written
	for j.applied < target && j.err == nil {
		ch := j.changed
		j.mu.Unlock()
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		j.mu.Lock()
	}
	err := j.err
	j.mu.Unlock()
	return err
}

// compact waits for everything logged to be durable and in bbolt, then
// empties the log. The caller holds wmu, so nothing is logged meanwhile.
func (j *journal) compact() {
	if err := j.waitSynced(); err != nil {
		return
	}
	if err := j.flush(context.Background()); err != nil {
		return // the log keeps what bbolt lacks; appends now fail with err
	}
	if err := j.wal.reset(); err != nil {
		j.fail(fmt.Errorf("store: %w", err))
	}
}

// close syncs and copies what is left, stops the copier, and empties and
// closes the log. The writer has stopped already, and no append is in
// flight.
func (j *journal) close() error {
	ferr := j.waitSynced()
	if ferr == nil {
		ferr = j.flush(context.Background())
	}
	close(j.stop)
	<-j.done
	if ferr == nil {
		ferr = j.wal.reset()
	}
	return errors.Join(ferr, j.wal.close())
}

// applyRecords puts logged events into bbolt: each event under its seq and
// its session's head moved on. An event bbolt already has is skipped, so
// copying the same records twice (a crash after the copy, before the log
// was emptied) is harmless; an event that would leave a gap is an error.
// Each session record is read and written once per batch.
func applyRecords(tx *bolt.Tx, recs []walRecord) error {
	sessions, events := tx.Bucket(bucketSessions), tx.Bucket(bucketEvents)
	touched := map[string]*Session{}
	var order []string
	for _, r := range recs {
		rec, ok := touched[r.Session]
		if !ok {
			key := []byte(r.Session)
			rec = &Session{}
			if raw := sessions.Get(key); raw != nil {
				s, err := decodeSession(raw)
				if err != nil {
					return fmt.Errorf("session %q: %w", r.Session, err)
				}
				*rec = s
			} else if r.Session == SystemLog {
				*rec = Session{ID: SystemLog, State: StateActive, Started: r.Time}
			} else {
				return fmt.Errorf("session %q: %w", r.Session, ErrNotFound)
			}
			touched[r.Session] = rec
			order = append(order, r.Session)
		}
		if rec.LastSeq >= r.Seq {
			continue
		}
		if r.Seq != rec.LastSeq+1 {
			return fmt.Errorf("session %q: event %d would follow %d: events are missing", r.Session, r.Seq, rec.LastSeq)
		}
		chain, err := events.CreateBucketIfNotExists([]byte(r.Session))
		if err != nil {
			return fmt.Errorf("chain %q: %w", r.Session, err)
		}
		// A chain only grows at its end (seq keys ascend), so its pages
		// are split full rather than half full: half the pages to
		// allocate and write per copy, and none is ever filled in later.
		chain.FillPercent = 1
		if err := chain.Put(seqKey(r.Seq), r.Event); err != nil {
			return fmt.Errorf("event %q/%d: %w", r.Session, r.Seq, err)
		}
		rec.LastSeq, rec.Head = r.Seq, r.Hash
		if r.Time.After(rec.LastSeen) {
			rec.LastSeen = r.Time
		}
		if r.SetData {
			rec.Data = r.Data
		}
	}
	if err := setAppliedLSN(tx, recs); err != nil {
		return err
	}
	for _, id := range order {
		val, err := encodeSession(*touched[id])
		if err != nil {
			return fmt.Errorf("session %q: %w", id, err)
		}
		if err := sessions.Put([]byte(id), val); err != nil {
			return fmt.Errorf("session %q: %w", id, err)
		}
	}
	return nil
}

// keyApplied, in the meta bucket, holds the LSN of the last log frame
// copied into bbolt (8 bytes, big-endian).
var keyApplied = []byte("wal_applied")

// appliedLSN is the LSN of the last log frame copied into bbolt; 0 before
// the first.
func appliedLSN(tx *bolt.Tx) uint64 {
	if v := tx.Bucket(bucketMeta).Get(keyApplied); len(v) == 8 {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// setAppliedLSN moves the copied LSN on to the highest of recs, in the
// transaction that copies them.
func setAppliedLSN(tx *bolt.Tx, recs []walRecord) error {
	top := appliedLSN(tx)
	for _, r := range recs {
		top = max(top, r.LSN)
	}
	if err := tx.Bucket(bucketMeta).Put(keyApplied, binary.BigEndian.AppendUint64(nil, top)); err != nil {
		return fmt.Errorf("log position: %w", err)
	}
	return nil
}
