package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Append adds ev to the chain of sessionID and returns it as stored. It
// sets Seq (1, 2, 3, ... per session), Time (now, if zero; always UTC),
// Prev and Hash, and moves the session's LastSeen, LastSeq and Head. It
// returns only once the event is fsync'd. The session must exist, except
// SystemLog, whose record Append makes on first use. Kind is required;
// Session, if set, must equal sessionID; Seq, Prev and Hash must be empty.
func (d *DB) Append(ctx context.Context, sessionID string, ev Event) (Event, error) {
	return d.append(ctx, sessionID, ev, nil)
}

// AppendWithData is Append that also replaces the session's Data in the
// same transaction, so that the supervisor's state (a workflow position,
// say) is never behind or ahead of the history that produced it.
func (d *DB) AppendWithData(ctx context.Context, sessionID string, ev Event, data json.RawMessage) (Event, error) {
	if data == nil {
		data = json.RawMessage("null")
	}
	return d.append(ctx, sessionID, ev, data)
}

func (d *DB) append(ctx context.Context, sessionID string, ev Event, data json.RawMessage) (Event, error) {
	ev, err := PrepareEvent(sessionID, ev, data)
	if err != nil {
		return Event{}, err
	}
	if d.w.j != nil {
		r := &appendReq{session: sessionID, ev: ev, setData: data != nil, data: data}
		start := time.Now()
		if err := d.w.append(ctx, r); err != nil {
			return Event{}, err
		}
		d.j.appends.Add(1)
		d.j.waited.Add(int64(time.Since(start)))
		return r.out, nil
	}
	return d.appendNaive(ctx, sessionID, ev, data)
}

// appendNaive is append in naive mode (the benchmarks' baseline):
// straight into bbolt. A function of its own because its transaction's
// closure moves the event to the heap, which append's path through the
// log need not pay.
func (d *DB) appendNaive(ctx context.Context, sessionID string, ev Event, data json.RawMessage) (Event, error) {
	key := []byte(sessionID)
	var out Event
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		var rec Session
		if raw := sessions.Get(key); raw != nil {
			var err error
			if rec, err = decodeSession(raw); err != nil {
				return fmt.Errorf("store: append to %q: %w", sessionID, err)
			}
		} else if sessionID == SystemLog {
			rec = Session{ID: SystemLog, State: StateActive, Started: ev.Time}
		} else {
			return fmt.Errorf("store: append to %q: %w", sessionID, ErrNotFound)
		}
		e := ev
		e.Seq, e.Prev = rec.LastSeq+1, rec.Head
		h, err := hashEvent(e)
		if err != nil {
			return fmt.Errorf("store: append to %q: %w", sessionID, err)
		}
		e.Hash = h
		val, err := encodeEvent(e)
		if err != nil {
			return fmt.Errorf("store: append to %q: %w", sessionID, err)
		}
		rec.LastSeq, rec.Head = e.Seq, e.Hash
		if data != nil {
			rec.Data = data
		}
		if e.Time.After(rec.LastSeen) {
			rec.LastSeen = e.Time
		}
		recVal, err := encodeSession(rec)
		if err != nil {
			return fmt.Errorf("store: append to %q: %w", sessionID, err)
		}
		chain, err := tx.Bucket(bucketEvents).CreateBucketIfNotExists(key)
		if err != nil {
			return abort(fmt.Errorf("chain %q: %w", sessionID, err))
		}
		if err := chain.Put(seqKey(e.Seq), val); err != nil {
			return abort(fmt.Errorf("event %q/%d: %w", sessionID, e.Seq, err))
		}
		if err := sessions.Put(key, recVal); err != nil {
			return abort(fmt.Errorf("session %q: %w", sessionID, err))
		}
		out = e
		return nil
	})
	if err != nil {
		return Event{}, err
	}
	return out, nil
}

// Events returns the events of sessionID in order. The error wraps
// ErrNotFound if there is no such session.
func (d *DB) Events(ctx context.Context, sessionID string) ([]Event, error) {
	var out []Event
	err := d.view(ctx, func(tx *bolt.Tx) error {
		chain, err := eventsBucket(tx, sessionID)
		if chain == nil {
			return err
		}
		out = make([]Event, 0, chain.Stats().KeyN)
		return chain.ForEach(func(k, v []byte) error {
			ev, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("event %x: %w", k, err)
			}
			out = append(out, ev)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: events of %q: %w", sessionID, err)
	}
	return out, nil
}

// PrepareEvent checks ev as Append takes it and returns it ready to be
// linked into sessionID's chain: Session and Time (UTC) set, DataSHA256
// set when data is not nil, normalised (chain.go). Every Store's Append
// runs it, so that the same event hashes the same in each.
func PrepareEvent(sessionID string, ev Event, data json.RawMessage) (Event, error) {
	switch {
	case sessionID == "":
		return Event{}, errors.New("store: append: empty session id")
	case ev.Session != "" && ev.Session != sessionID:
		return Event{}, fmt.Errorf("store: append to %q: event names session %q", sessionID, ev.Session)
	case ev.Kind == "":
		return Event{}, fmt.Errorf("store: append to %q: empty kind", sessionID)
	case ev.Seq != 0 || ev.Prev != "" || ev.Hash != "" || ev.DataSHA256 != "":
		return Event{}, fmt.Errorf("store: append to %q: Seq, Prev, Hash and DataSHA256 are set by Append", sessionID)
	}
	if data != nil {
		// The event commits the chain to the state it writes.
		digest, err := dataDigest(data)
		if err != nil {
			return Event{}, fmt.Errorf("store: append to %q: %w", sessionID, err)
		}
		ev.DataSHA256 = digest
	}
	ev.Session = sessionID
	if ev.Time.IsZero() {
		ev.Time = time.Now()
	}
	ev.Time = ev.Time.UTC()
	ev, err := normalize(ev)
	if err != nil {
		return Event{}, fmt.Errorf("store: append to %q: %w", sessionID, err)
	}
	return ev, nil
}

// SealEvent sets ev.Hash from its canonical encoding and returns the
// encoding to store, for a Store kept elsewhere (store/postgres).
func SealEvent(ev *Event) ([]byte, error) { return sealEvent(ev) }
