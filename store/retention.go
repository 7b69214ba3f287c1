package store

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterr "go.etcd.io/bbolt/errors"
)

// Retention: ended sessions past their agent's policy are exported, then
// their events are deleted, and the deletion itself is recorded twice: a
// tombstone in the pruned bucket (id -> Tombstone) and a KindPrune event
// on the SystemLog chain that lists every session of the batch with its
// chain head and the export file's SHA-256. Verify accepts a session
// whose events are gone only when both agree; events deleted any other
// way still break its chain ("tail truncated").
//
// Order, so that a crash at any point loses nothing: the export file is
// written, fsync'd and renamed into place; then the prune event is
// appended (durable); then transactions of up to deleteChunk sessions
// delete the events and write the tombstones. A crash before a session's
// delete leaves its events in place (and at worst a prune event or a file
// for a prune that did not happen); the next run exports them again.
//
// The session record is kept (listing still shows who ran what, when),
// with its head unchanged and its Data (the supervisor's workflow state,
// which may hold values bound from results) cleared. An event appended to
// a pruned session later (a late result) starts a chain that continues
// from the tombstone's head; Verify checks that link.

var bucketPruned = []byte("pruned")

// KindPrune is the SystemLog event that records a prune (PruneRecord in
// its Data).
const KindPrune = "prune"

// pruneBatch bounds the sessions of one export file and one prune event.
const pruneBatch = 1000

// Retention bounds the history kept for one agent. A zero field sets no
// bound.
type Retention struct {
	// MaxAge prunes ended sessions last seen longer ago than this.
	MaxAge time.Duration
	// MaxBytes prunes the agent's oldest ended sessions (by LastSeen)
	// while its stored events take more than this many bytes.
	MaxBytes int64
}

// PruneOptions say what Prune removes and where it exports it first.
type PruneOptions struct {
	// Now is the time MaxAge counts back from; zero means time.Now().
	Now time.Time
	// ExportDir receives one export file per batch; required.
	ExportDir string
	// Policy returns the retention of an agent's sessions; required.
	Policy func(agent string) Retention
}

// PruneResult says what one Prune removed.
type PruneResult struct {
	Sessions int      // sessions whose events were deleted
	Events   int      // events deleted
	Bytes    int64    // bytes of events deleted (before compaction)
	Files    []string // export files written, absolute paths
}

// Tombstone is what the store keeps of a pruned session's events.
type Tombstone struct {
	Session string    `json:"session"`
	Pruned  time.Time `json:"pruned"`
	// LastSeq and Head are the chain head at the prune.
	LastSeq uint64 `json:"last_seq"`
	Head    string `json:"head"`
	// ExportFile is the base name of the export file in the export
	// directory, ExportSHA256 its SHA-256.
	ExportFile   string `json:"export_file"`
	ExportSHA256 string `json:"export_sha256"`
	// SystemSeq is the seq of the KindPrune event on the SystemLog chain.
	SystemSeq uint64 `json:"system_seq"`
}

// PruneRecord is the Data of a KindPrune event.
type PruneRecord struct {
	ExportFile   string        `json:"export_file"`
	ExportSHA256 string        `json:"export_sha256"`
	Sessions     []PrunedChain `json:"sessions"`
}

// PrunedChain is one session of a prune: its agent and chain head.
type PrunedChain struct {
	Session string `json:"session"`
	Agent   string `json:"agent"`
	LastSeq uint64 `json:"last_seq"`
	Head    string `json:"head"`
	Events  int    `json:"events"`
	Bytes   int64  `json:"bytes"`
}

// candidate is a session Prune may remove: whether it has events, and
// their size (counted only for an agent with a MaxBytes).
type candidate struct {
	s     Session
	some  bool
	bytes int64
}

// Prune exports and then deletes the events of ended (or killed, or
// expired) sessions that are past their agent's retention, in batches of
// at most pruneBatch sessions per export file. Active sessions and the
// SystemLog are never pruned.
func (d *DB) Prune(ctx context.Context, o PruneOptions) (PruneResult, error) {
	var res PruneResult
	if o.ExportDir == "" || o.Policy == nil {
		return res, errors.New("store: prune: an export directory and a policy are required")
	}
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	victims, err := d.pruneCandidates(ctx, o)
	if err != nil {
		return res, fmt.Errorf("store: prune: %w", err)
	}
	for batch := range slices.Chunk(victims, pruneBatch) {
		if err := d.pruneBatch(ctx, o, batch, &res); err != nil {
			return res, fmt.Errorf("store: prune: %w", err)
		}
	}
	return res, nil
}

// pruneCandidates picks the sessions past their agent's retention: every
// ended session older than MaxAge, then the oldest ended ones while the
// agent's history is over MaxBytes.
func (d *DB) pruneCandidates(ctx context.Context, o PruneOptions) ([]candidate, error) {
	byAgent := map[string][]candidate{}
	policies := map[string]Retention{}
	err := d.view(ctx, func(tx *bolt.Tx) error {
		events := tx.Bucket(bucketEvents)
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			if string(k) == SystemLog {
				return nil
			}
			s, err := decodeSession(v)
			if err != nil {
				return fmt.Errorf("session %q: %w", k, err)
			}
			s.Data = nil // not needed here, and it can be large
			pol, ok := policies[s.Agent]
			if !ok {
				pol = o.Policy(s.Agent)
				policies[s.Agent] = pol
			}
			c := candidate{s: s}
			if chain := events.Bucket(k); chain != nil {
				first, _ := chain.Cursor().First()
				c.some = first != nil
			}
			byAgent[s.Agent] = append(byAgent[s.Agent], c)
			return ctx.Err()
		})
	})
	if err != nil {
		return nil, err
	}
	// Sizes are counted a session per transaction: one read transaction
	// over the whole history would hold up bbolt's growth (a writer that
	// must remap waits for every reader) for as long as it walks.
	for agent, list := range byAgent {
		if policies[agent].MaxBytes <= 0 {
			continue
		}
		for i := range list {
			if !list[i].some {
				continue
			}
			if list[i].bytes, err = d.chainSize(ctx, list[i].s.ID); err != nil {
				return nil, err
			}
		}
	}
	var out []candidate
	for agent, list := range byAgent {
		pol := policies[agent]
		// Oldest first, so that MaxBytes removes the oldest.
		slices.SortFunc(list, func(a, b candidate) int {
			return cmp.Or(a.s.LastSeen.Compare(b.s.LastSeen), cmp.Compare(a.s.ID, b.s.ID))
		})
		var total int64
		for _, c := range list {
			total += c.bytes
		}
		for _, c := range list {
			if c.s.State == StateActive || !c.some {
				continue
			}
			old := pol.MaxAge > 0 && o.Now.Sub(c.s.LastSeen) > pol.MaxAge
			big := pol.MaxBytes > 0 && total > pol.MaxBytes
			if old || big {
				out = append(out, c)
				total -= c.bytes
			}
		}
	}
	return out, nil
}

// pruneBatch exports one batch, records the prune on the SystemLog, and
// deletes the batch's events under tombstones.
func (d *DB) pruneBatch(ctx context.Context, o PruneOptions, batch []candidate, res *PruneResult) error {
	ids := make([]string, len(batch))
	for i, c := range batch {
		ids[i] = c.s.ID
	}
	name := fmt.Sprintf("warden-export-%s-%s.jsonl", o.Now.UTC().Format("20060102T150405Z"), randomSuffix())
	path := filepath.Join(o.ExportDir, name)
	heads := map[string]PrunedChain{}
	// One flush for the batch, not one per session: a session that gets
	// an event after its export is left alone by the delete below.
	if err := d.flushLog(ctx); err != nil {
		return err
	}
	sum, err := WriteExportFile(path, func(w io.Writer) error {
		for _, id := range ids {
			s, evs, size, err := d.snapshot(ctx, id)
			if err != nil {
				return err
			}
			if err := WriteExport(w, s, evs); err != nil {
				return err
			}
			heads[id] = PrunedChain{Session: id, Agent: s.Agent, LastSeq: s.LastSeq, Head: s.Head, Events: len(evs), Bytes: size}
		}
		return nil
	})
	if err != nil {
		return err
	}
	rec := PruneRecord{ExportFile: name, ExportSHA256: sum}
	for _, id := range ids {
		rec.Sessions = append(rec.Sessions, heads[id])
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return fmt.Errorf("encode prune record: %w", err)
	}
	sysEv, err := d.Append(ctx, SystemLog, Event{Kind: KindPrune, Data: data,
		Reasons: []string{fmt.Sprintf("retention: %d sessions exported to %s, then their events deleted", len(ids), name)}})
	if err != nil {
		return fmt.Errorf("record the prune of %s: %w", name, err)
	}
	// Everything logged so far is in bbolt before the delete; an event
	// logged after this continues the chain from the tombstone's head.
	if err := d.flushLog(ctx); err != nil {
		return err
	}
	tomb := Tombstone{Pruned: time.Now().UTC(), ExportFile: name, ExportSHA256: sum, SystemSeq: sysEv.Seq}
	res.Files = append(res.Files, path)
	for chunk := range slices.Chunk(ids, deleteChunk) {
		pruned, err := d.dropChains(ctx, chunk, heads, tomb)
		for _, h := range pruned {
			res.Sessions++
			res.Events += h.Events
			res.Bytes += h.Bytes
		}
		if err != nil {
			return fmt.Errorf("delete the events exported to %s: %w", name, err)
		}
	}
	return nil
}

// chainSize returns the bytes a session's events take in bbolt (keys and
// values).
func (d *DB) chainSize(ctx context.Context, id string) (int64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	var n int64
	err := d.bolt.View(func(tx *bolt.Tx) error {
		if chain := tx.Bucket(bucketEvents).Bucket([]byte(id)); chain != nil {
			c := chain.Cursor()
			for k, v := c.First(); k != nil; k, v = c.Next() {
				n += int64(len(k) + len(v))
			}
		}
		return nil
	})
	return n, err
}

// deleteChunk bounds the sessions whose events one transaction deletes:
// the transaction holds up every other write, appends included.
const deleteChunk = 50

// dropChains deletes the events of the sessions ids, in one durable
// transaction, each under a tombstone made from tomb and its exported
// head. A session whose head moved since its export (or that is active
// again) is skipped: the next run exports it again. It returns the heads
// of the sessions it pruned.
func (d *DB) dropChains(ctx context.Context, ids []string, heads map[string]PrunedChain, tomb Tombstone) ([]PrunedChain, error) {
	var pruned []PrunedChain
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		pruned = pruned[:0]
		tombs, err := tx.CreateBucketIfNotExists(bucketPruned)
		if err != nil {
			return abort(err)
		}
		sessions, events := tx.Bucket(bucketSessions), tx.Bucket(bucketEvents)
		for _, id := range ids {
			h, key := heads[id], []byte(id)
			raw := sessions.Get(key)
			if raw == nil {
				continue
			}
			s, err := decodeSession(raw)
			if err != nil {
				return fmt.Errorf("session %q: %w", id, err)
			}
			if s.State == StateActive || s.LastSeq != h.LastSeq || s.Head != h.Head {
				continue
			}
			t := tomb
			t.Session, t.LastSeq, t.Head = id, h.LastSeq, h.Head
			ts, err := json.Marshal(t)
			if err != nil {
				return fmt.Errorf("tombstone %q: %w", id, err)
			}
			s.Data = nil
			val, err := encodeSession(s)
			if err != nil {
				return err
			}
			if events.Bucket(key) != nil {
				if err := events.DeleteBucket(key); err != nil {
					return abort(fmt.Errorf("events of %q: %w", id, err))
				}
			}
			if err := tombs.Put(key, ts); err != nil {
				return abort(fmt.Errorf("tombstone %q: %w", id, err))
			}
			if err := sessions.Put(key, val); err != nil {
				return abort(fmt.Errorf("session %q: %w", id, err))
			}
			pruned = append(pruned, h)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return pruned, nil
}

// flushLog waits until every event durable in the log is in bbolt.
func (d *DB) flushLog(ctx context.Context) error {
	if d.j == nil {
		return nil
	}
	return d.j.flush(ctx)
}

// snapshot reads one session and its events in one transaction, and the
// bytes the events take in bbolt (keys and values). It does not wait for
// the log (see flushLog): events still there are simply not read.
func (d *DB) snapshot(ctx context.Context, id string) (Session, []Event, int64, error) {
	var s Session
	var evs []Event
	var size int64
	if err := ctx.Err(); err != nil {
		return s, nil, 0, err
	}
	err := d.bolt.View(func(tx *bolt.Tx) error {
		key := []byte(id)
		raw := tx.Bucket(bucketSessions).Get(key)
		if raw == nil {
			return fmt.Errorf("session %q: %w", id, ErrNotFound)
		}
		var err error
		if s, err = decodeSession(raw); err != nil {
			return fmt.Errorf("session %q: %w", id, err)
		}
		chain := tx.Bucket(bucketEvents).Bucket(key)
		if chain == nil {
			return nil
		}
		return chain.ForEach(func(k, v []byte) error {
			ev, err := decodeEvent(v)
			if err != nil {
				return fmt.Errorf("session %q event %x: %w", id, k, err)
			}
			evs = append(evs, ev)
			size += int64(len(k) + len(v))
			return nil
		})
	})
	if errors.Is(err, bolterr.ErrDatabaseNotOpen) {
		err = ErrClosed
	}
	return s, evs, size, err
}

// Tombstone returns what was kept of a pruned session; ok is false if
// the session was never pruned.
func (d *DB) Tombstone(ctx context.Context, id string) (t Tombstone, ok bool, err error) {
	err = d.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketPruned)
		if b == nil {
			return nil
		}
		raw := b.Get([]byte(id))
		if raw == nil {
			return nil
		}
		ok = true
		return decodeStrict(raw, &t)
	})
	if err != nil {
		return Tombstone{}, false, fmt.Errorf("store: tombstone of %q: %w", id, err)
	}
	return t, ok, nil
}
