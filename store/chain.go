package store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	bolt "go.etcd.io/bbolt"
)

// The hash chain.
//
// Canonical encoding: an event's hash is hex(SHA-256(json.Marshal(ev)))
// computed with ev.Hash == "". encoding/json writes struct fields in
// declaration order with fixed names (the json tags on Event), so every
// field, Seq and Prev included, is covered and the bytes are deterministic.
// Before hashing, Append normalises the event by one JSON round trip (times
// become UTC RFC 3339 with nanoseconds, Args and Data are compacted,
// invalid UTF-8 becomes U+FFFD), so that decoding the stored bytes and
// encoding them again gives exactly the bytes that were hashed; Verify
// relies on that. Changing Event's fields, their order or tags changes the
// encoding, and stored chains would then need migrating.
//
// What the chain proves: each event carries the hash of the one before, so
// an edited field, a deleted event or a reordered event breaks the chain at
// that point. A chain alone cannot show that its tail was cut off (the
// shorter chain is still valid), so each session record also keeps the
// chain's head (LastSeq, Head), written in the same transaction as the
// event, and Verify compares them. A session deleted whole, or cut back
// with its record's head moved to match, is caught against the session log
// on the SystemLog chain (sessionlog.go). Someone who can rewrite the file
// can still recompute every hash and head, the SystemLog's included:
// detecting that needs the heads anchored outside the file (anchor.go).

// hashEvent returns the hex SHA-256 of ev's canonical encoding (Hash cleared).
func hashEvent(ev Event) (string, error) {
	ev.Hash = ""
	b, err := json.Marshal(&ev)
	if err != nil {
		return "", fmt.Errorf("encode event: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// decodeEvent parses a stored event. It refuses unknown fields and
// trailing bytes, so that what Verify hashes is all that was stored.
func decodeEvent(b []byte) (Event, error) {
	var ev Event
	if err := decodeStrict(b, &ev); err != nil {
		return Event{}, fmt.Errorf("decode event: %w", err)
	}
	return ev, nil
}

// decodeStrict unmarshals exactly one JSON value with known fields only.
func decodeStrict(b []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errors.New("trailing data after the value")
	}
	return nil
}

// Verify recomputes every event's hash and link, in every chain, and
// compares each chain's end with its session record's head. It reports the
// first broken event of each broken chain; a nil error with an empty
// Broken means every chain is intact. A session whose events were pruned
// counts as intact (and in Pruned) only when its tombstone matches the
// prune event on the SystemLog chain; its chain, if events came after the
// prune, must continue from the tombstone's head. Verify also checks the
// sessions and approvals against the session log (sessionlog.go).
func (d *DB) Verify(ctx context.Context) (Report, error) {
	var rep Report
	err := d.view(ctx, func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		tombs := tx.Bucket(bucketPruned)   // nil until the first prune
		prunes := map[uint64]*pruneEvent{} // prune events read so far, by seq
		seen := map[string]bool{}
		c := tx.Bucket(bucketSessions).Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			id := string(k)
			seen[id] = true
			rep.Sessions++
			rec, err := decodeSession(v)
			if err != nil {
				rep.Broken = append(rep.Broken, Break{Session: id, Reason: fmt.Sprintf("session record: %v", err)})
				continue
			}
			var start chainHead
			if tombs != nil {
				if raw := tombs.Get(k); raw != nil {
					t, reason := checkTombstone(tx, id, raw, prunes)
					if reason != "" {
						rep.Broken = append(rep.Broken, Break{Session: id, Seq: 1, Reason: reason})
						continue
					}
					start = chainHead{t.LastSeq, t.Head}
					rep.Pruned++
				}
			}
			n, brk, data, err := checkChain(ctx, id, &rec, events.Bucket(k), start)
			rep.Events += n
			if err != nil {
				return err
			}
			if brk != nil {
				rep.Broken = append(rep.Broken, *brk)
			} else if hasData(rec.Data) && !data {
				rep.Uncommitted++
			}
		}
		// Chains whose session record is gone.
		c = events.Cursor()
		for k, _ := c.First(); k != nil; k, _ = c.Next() {
			if seen[string(k)] {
				continue
			}
			rep.Sessions++
			n, brk, _, err := checkChain(ctx, string(k), nil, events.Bucket(k), chainHead{})
			rep.Events += n
			if err != nil {
				return err
			}
			if brk != nil {
				rep.Broken = append(rep.Broken, *brk)
			}
		}
		// Tombstones whose session record is gone.
		if tombs != nil {
			_ = tombs.ForEach(func(k, _ []byte) error {
				if !seen[string(k)] {
					rep.Sessions++
					rep.Broken = append(rep.Broken, Break{Session: string(k), Seq: 1, Reason: "pruned session has no session record"})
				}
				return nil
			})
		}
		checkSessionLog(tx, &rep)
		return nil
	})
	if err != nil {
		return Report{}, fmt.Errorf("store: verify: %w", err)
	}
	return rep, nil
}

// checkTombstone decodes a tombstone and checks it against the prune
// event it names on the SystemLog chain; a non-empty reason says why it
// does not hold. prunes caches the prune events already read (one lists
// up to a batch of sessions), with nil for one that is not intact.
func checkTombstone(tx *bolt.Tx, id string, raw []byte, prunes map[uint64]*pruneEvent) (Tombstone, string) {
	var t Tombstone
	if err := decodeStrict(raw, &t); err != nil {
		return t, fmt.Sprintf("tombstone: %v", err)
	}
	if t.Session != id {
		return t, fmt.Sprintf("tombstone names session %q", t.Session)
	}
	pe, seen := prunes[t.SystemSeq]
	if !seen {
		pe = readPrune(tx, t)
		prunes[t.SystemSeq] = pe
	}
	if pe == nil {
		return t, fmt.Sprintf("events pruned, but the system log has no intact prune event %d: deleted, not pruned", t.SystemSeq)
	}
	p, ok := pe.chains[id]
	switch {
	case !ok:
		return t, fmt.Sprintf("prune event %d does not list this session: deleted, not pruned", t.SystemSeq)
	case p.LastSeq != t.LastSeq || p.Head != t.Head:
		return t, fmt.Sprintf("tombstone's chain head differs from prune event %d's", t.SystemSeq)
	case pe.file != t.ExportFile || pe.sum != t.ExportSHA256:
		return t, fmt.Sprintf("tombstone's export file differs from prune event %d's", t.SystemSeq)
	}
	return t, ""
}

// pruneEvent is a prune event as Verify uses it.
type pruneEvent struct {
	file, sum string                 // the export file and its SHA-256
	chains    map[string]PrunedChain // by session id
}

// readPrune reads the prune event a tombstone names; nil if the event is
// missing, altered or not a prune.
func readPrune(tx *bolt.Tx, t Tombstone) *pruneEvent {
	sys := tx.Bucket(bucketEvents).Bucket([]byte(SystemLog))
	if sys == nil {
		return nil
	}
	val := sys.Get(seqKey(t.SystemSeq))
	if val == nil {
		return nil
	}
	ev, err := decodeEvent(val)
	if err != nil || ev.Kind != KindPrune {
		return nil
	}
	if h, err := hashEvent(ev); err != nil || h != ev.Hash {
		return nil
	}
	var pr PruneRecord
	if err := json.Unmarshal(ev.Data, &pr); err != nil {
		return nil
	}
	pe := &pruneEvent{file: pr.ExportFile, sum: pr.ExportSHA256, chains: make(map[string]PrunedChain, len(pr.Sessions))}
	for _, p := range pr.Sessions {
		pe.chains[p.Session] = p
	}
	return pe
}

// checkChain walks one chain (b may be nil: no events) and returns how
// many events were intact before the first break, and that break. rec is
// the chain's session record, nil when it has none. start is where the
// chain begins: zero, or the head its pruned events ended at. committed
// says whether some event commits to the record's Data; one that does must
// match it.
func checkChain(ctx context.Context, id string, rec *Session, b *bolt.Bucket, start chainHead) (n int, _ *Break, committed bool, _ error) {
	var c *bolt.Cursor
	if b != nil {
		c = b.Cursor()
	}
	first := true
	return walkChain(ctx, id, rec, start, func() (k, v []byte) {
		if c == nil {
			return nil, nil
		}
		if first {
			first = false
			return c.First()
		}
		return c.Next()
	})
}

// CheckChain is Verify's check of one chain for a Store kept elsewhere
// (store/postgres): next yields the stored events in key order, each as
// its 8-byte big-endian seq and its stored encoding, and nil at the end.
// rec is the chain's session record, nil when it has none. It returns how
// many events were intact, the first break (nil when none), and whether
// some event commits to the record's Data.
func CheckChain(ctx context.Context, id string, rec *Session, next func() (k, v []byte)) (int, *Break, bool, error) {
	return walkChain(ctx, id, rec, chainHead{}, next)
}

func walkChain(ctx context.Context, id string, rec *Session, start chainHead, next func() (k, v []byte)) (n int, _ *Break, committed bool, _ error) {
	brk := func(seq uint64, format string, args ...any) *Break {
		return &Break{Session: id, Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	var data dataCommit
	prev := start.hash
	expect := start.seq + 1
	for k, v := next(); k != nil; k, v = next() {
		if n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return n, nil, false, err
			}
		}
		if len(k) != 8 || v == nil {
			return n, brk(expect, "unexpected key %x in the chain", k), false, nil
		}
		seq := binary.BigEndian.Uint64(k)
		if seq != expect {
			return n, brk(expect, "event %d is missing (the next stored is %d): deleted", expect, seq), false, nil
		}
		ev, err := decodeEvent(v)
		if err != nil {
			return n, brk(seq, "%v", err), false, nil
		}
		if ev.Seq != seq {
			return n, brk(seq, "stored as event %d but says it is event %d: reordered", seq, ev.Seq), false, nil
		}
		if ev.Session != id {
			return n, brk(seq, "says it belongs to session %q: moved between chains", ev.Session), false, nil
		}
		h, err := hashEvent(ev)
		if err != nil {
			return n, brk(seq, "%v", err), false, nil
		}
		if h != ev.Hash {
			return n, brk(seq, "hash mismatch: the event was altered"), false, nil
		}
		if ev.Prev != prev {
			return n, brk(seq, "prev does not match the hash of event %d: an event before it was replaced or reordered", seq-1), false, nil
		}
		prev = ev.Hash
		data.see(ev)
		expect++
		n++
	}
	last := expect - 1
	switch {
	case rec == nil:
		if last == 0 {
			return n, nil, false, nil // an empty chain bucket is harmless
		}
		return n, brk(1, "chain has no session record"), false, nil
	case rec.LastSeq > last:
		return n, brk(last+1, "chain ends at event %d but the session record's head is event %d: tail truncated", last, rec.LastSeq), false, nil
	case rec.LastSeq < last:
		return n, brk(rec.LastSeq+1, "chain runs to event %d past the session record's head, event %d", last, rec.LastSeq), false, nil
	case rec.Head != prev:
		return n, brk(last, "the session record's head hash does not match the last event"), false, nil
	}
	if reason, _ := data.check(rec.Data, start.seq > 0); reason != "" {
		seq := data.seq
		if seq == 0 {
			seq = last
		}
		return n, brk(seq, "%s", reason), false, nil
	}
	return n, nil, data.digest != "", nil
}

// sealEvent sets ev.Hash and returns the stored encoding, with one JSON
// encoding instead of two: Hash is the last field, so the canonical bytes
// (Hash empty) end in `"hash":""}` and the stored bytes are the same with
// the hash spliced in. The result equals hashEvent then encodeEvent.
func sealEvent(ev *Event) ([]byte, error) {
	ev.Hash = ""
	// Encoded into a buffer with room for the hash, so that splicing it
	// in needs no second buffer.
	b, ok := appendEventJSON(make([]byte, 0, sealRoom(ev)), ev)
	if !ok {
		// An Encoder writes what Marshal returns (HTML escaped too) and a
		// newline.
		buf := bytes.NewBuffer(b)
		if err := json.NewEncoder(buf).Encode(ev); err != nil {
			return nil, fmt.Errorf("encode event: %w", err)
		}
		b = bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
	}
	const tail = `"hash":""}`
	if !bytes.HasSuffix(b, []byte(tail)) {
		return nil, fmt.Errorf("encode event: unexpected encoding %.40q", b[max(0, len(b)-40):])
	}
	sum := sha256.Sum256(b)
	out := hex.AppendEncode(b[:len(b)-2], sum[:])
	ev.Hash = string(out[len(b)-2:])
	return append(out, `"}`...), nil
}

// sealRoom is what an event's stored encoding is likely to need: its
// variable parts, room for the fixed fields, and the hash with a newline.
func sealRoom(ev *Event) int {
	n := 512 + len(ev.Args) + len(ev.Data) + len(ev.Error) + len(ev.Session) + len(ev.Tool) + len(ev.Prev)
	for _, r := range ev.Reasons {
		n += len(r) + 8
	}
	return n
}

// encodeEvent is the stored form of an event: its canonical encoding with
// Hash filled in.
func encodeEvent(ev Event) ([]byte, error) {
	b, err := json.Marshal(&ev)
	if err != nil {
		return nil, fmt.Errorf("encode event: %w", err)
	}
	return b, nil
}
