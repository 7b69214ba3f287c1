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

// walResetSize is how large the log may grow before the writer waits for
// bbolt to catch up and empties it.
const walResetSize = 16 << 20

// journal carries appends through the log (wal.go) into bbolt. The writer
// goroutine prepares a round's appends and writes them to the log; a
// syncer goroutine makes what was written durable (one fdatasync for
// every round written meanwhile) and answers the callers; a copier
// goroutine then puts the records in bbolt. Writing the next round while
// the last one syncs is what lets concurrent sessions share fsyncs. Reads
// that must see every durable event call flush first.
type journal struct {
	bolt  *bolt.DB
	wal   *wal
	heads map[string]chainHead // by session; the writer goroutine's alone

	mu       sync.Mutex
	unsynced []syncRound   // written to the log, not yet durable
	syncing  bool          // the syncer is running an fdatasync
	synced   chan struct{} // closed and replaced when unsynced empties
	syncWake chan struct{} // capacity 1: unsynced is not empty
	queue    []walRecord   // durable in the log, not yet in bbolt
	written  uint64        // records made durable
	applied  uint64        // records copied into bbolt
	err      error         // a copy failed: appends are refused from then on
	changed  chan struct{} // closed and replaced when applied or err moves
	wake     chan struct{} // capacity 1: the queue is not empty
	urgent   chan struct{} // capacity 1: a reader waits for the copy
	stop     chan struct{}
	done     chan struct{}
	syncDone chan struct{} // closed when the syncer has exited

	syncs   atomic.Uint64 // fdatasyncs of the log; tests and benchmarks read it
	appends atomic.Uint64 // appends made durable (LogStats)
	waited  atomic.Int64  // nanoseconds appenders waited for durability (LogStats)
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

// syncRound is a round written to the log: its ops are answered once it
// is durable.
type syncRound struct {
	ops    []*op
	recs   []walRecord
	finish func(*op, error)
}

// chainHead is the last event of a chain: its seq and hash.
type chainHead struct {
	seq  uint64
	hash string
}

// appendReq is one Append waiting in the writer's queue.
type appendReq struct {
	session string
	ev      Event // normalised; Seq, Prev and Hash are set by the writer
	setData bool
	data    json.RawMessage
	out     Event
}

// openJournal opens the log beside the bbolt file, copies into bbolt
// whatever a crash left in it, replaces it with a new, empty log, and
// starts the syncer and the copier. It refuses, wrapping ErrLogDamaged,
// when the log and bbolt between them may not hold every acknowledged
// event; recovered is how many events it copied from the log.
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
		bolt: bdb, wal: w, heads: map[string]chainHead{},
		changed: make(chan struct{}), wake: make(chan struct{}, 1), urgent: make(chan struct{}, 1),
		stop: make(chan struct{}), done: make(chan struct{}),
		synced: make(chan struct{}), syncWake: make(chan struct{}, 1), syncDone: make(chan struct{}),
	}
	go j.copier()
	go j.syncer()
	return j, len(old.recs), nil
}

// commit writes a round's appends to the log, each chained to its
// session's head, and hands the round to the syncer, which answers each op
// (with finish) once the round is durable. An op that fails before that is
// answered at once. Called by the writer goroutine only.
func (j *journal) commit(ops []*op, finish func(*op, error)) {
	if err := j.failure(); err != nil {
		for _, o := range ops {
			finish(o, err)
		}
		return
	}
	// Empty the log first, before anything of this round is framed: the
	// round is then put under the header it is stamped for.
	if j.wal.off > walResetSize {
		j.compact()
		if err := j.failure(); err != nil {
			for _, o := range ops {
				finish(o, err)
			}
			return
		}
	}
	recs := make([]walRecord, 0, len(ops))
	payloads := make([][]byte, 0, len(ops))
	taken := make([]*op, 0, len(ops))
	next := map[string]chainHead{}
	for _, o := range ops {
		r := o.req
		h, err := j.head(next, r.session)
		if err != nil {
			finish(o, err)
			continue
		}
		e := r.ev
		e.Seq, e.Prev = h.seq+1, h.hash
		val, err := sealEvent(&e)
		if err != nil {
			finish(o, fmt.Errorf("store: append to %q: %w", r.session, err))
			continue
		}
		rec := walRecord{Session: r.session, Seq: e.Seq, Hash: e.Hash, Time: e.Time, Event: val, SetData: r.setData, Data: r.data}
		payload := rec.marshal()
		if len(payload) > maxFrame {
			finish(o, fmt.Errorf("store: append to %q: log record of %d bytes exceeds %d", r.session, len(payload), maxFrame))
			continue
		}
		recs = append(recs, rec)
		payloads = append(payloads, payload)
		taken = append(taken, o)
		next[r.session] = chainHead{e.Seq, e.Hash}
		r.out = e
	}
	if len(recs) == 0 {
		return
	}
	if err := j.wal.put(recs, payloads); err != nil {
		// A failed write may have left part of the round in the log: the
		// store stops taking appends (fail closed) rather than chain on
		// from an unknown state.
		err = j.fail(fmt.Errorf("store: append: %w", err))
		for _, o := range taken {
			finish(o, err)
		}
		return
	}
	if len(j.heads) > maxHeads {
		// The cache only spares bbolt reads: once everything logged is in
		// bbolt, it can be dropped and filled again from there.
		j.waitSynced()
		if err := j.flush(context.Background()); err == nil {
			clear(j.heads)
		}
	}
	for s, h := range next {
		j.heads[s] = h
	}
	j.mu.Lock()
	j.unsynced = append(j.unsynced, syncRound{ops: taken, recs: recs, finish: finish})
	j.mu.Unlock()
	select {
	case j.syncWake <- struct{}{}:
	default:
	}
}

// syncer makes written rounds durable, as many per fdatasync as were
// written meanwhile, answers their ops, and hands their records to the
// copier. An fdatasync that fails fails its rounds and the store: after a
// failed sync nothing can be trusted to have reached the disk.
func (j *journal) syncer() {
	defer close(j.syncDone)
	for {
		select {
		case <-j.syncWake:
		case <-j.stop:
			j.mu.Lock()
			empty := len(j.unsynced) == 0
			j.mu.Unlock()
			if empty {
				return
			}
		}
		j.mu.Lock()
		rounds := j.unsynced
		j.unsynced = nil
		j.syncing = len(rounds) > 0
		j.mu.Unlock()
		if len(rounds) == 0 {
			continue
		}
		err := j.wal.sync()
		j.syncs.Add(1)
		if err != nil {
			err = j.fail(fmt.Errorf("store: append: %w", err))
		}
		for _, r := range rounds {
			if err == nil {
				j.enqueue(r.recs)
			}
			for _, o := range r.ops {
				r.finish(o, err)
			}
		}
		j.mu.Lock()
		j.syncing = false
		if len(j.unsynced) == 0 {
			close(j.synced)
			j.synced = make(chan struct{})
		}
		j.mu.Unlock()
	}
}

// waitSynced waits until everything written to the log is durable.
func (j *journal) waitSynced() {
	for {
		j.mu.Lock()
		idle := len(j.unsynced) == 0 && !j.syncing
		ch := j.synced
		j.mu.Unlock()
		if idle {
			return
		}
		select {
		case j.syncWake <- struct{}{}:
		default:
		}
		<-ch
	}
}

// fail records err as the store's failure, unless one is recorded already,
// wakes every waiter, and returns the failure now in force. It is the one
// way the journal fails: appends are refused from then on, and nothing
// more is copied into bbolt.
func (j *journal) fail(err error) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = err
	}
	close(j.changed)
	j.changed = make(chan struct{})
	return j.err
}

// head returns the chain head of session as this round leaves it: from the
// round so far, the cache, or bbolt.
func (j *journal) head(round map[string]chainHead, session string) (chainHead, error) {
	if h, ok := round[session]; ok {
		return h, nil
	}
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

// enqueue hands durable records to the copier.
func (j *journal) enqueue(recs []walRecord) {
	j.mu.Lock()
	j.queue = append(j.queue, recs...)
	j.written += uint64(len(recs))
	j.mu.Unlock()
	select {
	case j.wake <- struct{}{}:
	default:
	}
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
		j.queue = nil
		failed := j.err != nil
		j.mu.Unlock()
		// After a failure nothing more is copied: bbolt must not get
		// later events with earlier ones missing. The log keeps them all
		// for the next start.
		if len(batch) > 0 && !failed {
			if err := j.bolt.Update(func(tx *bolt.Tx) error { return applyRecords(tx, batch) }); err != nil {
				j.fail(fmt.Errorf("store: copy the log into bbolt: %w", err))
			} else {
				j.mu.Lock()
				j.applied += uint64(len(batch))
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
// empties the log. Called by the writer goroutine, so nothing is logged
// meanwhile.
func (j *journal) compact() {
	j.waitSynced()
	if err := j.flush(context.Background()); err != nil {
		return // the log keeps what bbolt lacks; appends now fail with err
	}
	if err := j.wal.reset(); err != nil {
		j.fail(fmt.Errorf("store: %w", err))
	}
}

// close syncs and copies what is left, stops the syncer and the copier,
// and empties and closes the log. The writer has stopped already.
func (j *journal) close() error {
	j.waitSynced()
	ferr := j.flush(context.Background())
	close(j.stop)
	<-j.syncDone
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
