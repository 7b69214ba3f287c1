package store

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Anchoring: someone who can write the history file can recompute every
// hash and head in it, so nothing inside the file can show that it was
// rolled back or rewritten consistently. A checkpoint is a signed list of
// chain heads (session, seq, hash) kept outside the file (a file of the
// operator's choice, a webhook); Verify checks that each head is still in
// the history: the chain holds that seq with that hash, or retention
// pruned it under a tombstone that covers it. A restored older copy of
// the file, or a chain cut back, fails that check for every head
// checkpointed after the copy or the cut.
//
// A checkpoint lists the heads that moved since the one before it (the
// first of a run lists them all), so that its size follows the traffic,
// not the history. Each carries the signature of the one before (Prev), so
// a line removed from the anchor file shows. The signature is
// hex(HMAC-SHA256(key, JSON of the checkpoint with Sig empty)).

// Checkpoint is a signed list of chain heads at one moment.
type Checkpoint struct {
	Time  time.Time `json:"time"`
	Heads []Head    `json:"heads"`
	// Prev is the Sig of the checkpoint before it ("" for the first).
	Prev string `json:"prev"`
	Sig  string `json:"sig"`
}

// Head is one chain's last event: its session, seq and hash.
type Head struct {
	Session string `json:"session"`
	Seq     uint64 `json:"seq"`
	Hash    string `json:"hash"`
}

// Heads returns the head of every chain with at least one event, the
// SystemLog's included, once every event already logged is in bbolt.
func (d *DB) Heads(ctx context.Context) ([]Head, error) {
	var out []Head
	err := d.view(ctx, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSessions).ForEach(func(k, v []byte) error {
			s, err := decodeSession(v)
			if err != nil {
				return fmt.Errorf("session %q: %w", k, err)
			}
			if s.LastSeq > 0 {
				out = append(out, Head{Session: s.ID, Seq: s.LastSeq, Hash: s.Head})
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("store: heads: %w", err)
	}
	return out, nil
}

// CheckHeads reports each head that the history no longer holds: a chain
// that does not reach it, or has another event there. It does not check
// the chains themselves (Verify does).
func (d *DB) CheckHeads(ctx context.Context, heads []Head) ([]Break, error) {
	var out []Break
	err := d.view(ctx, func(tx *bolt.Tx) error {
		sessions := tx.Bucket(bucketSessions)
		for _, h := range heads {
			raw := sessions.Get([]byte(h.Session))
			if raw == nil {
				out = append(out, Break{Session: h.Session, Seq: h.Seq, Reason: "checkpointed at event " + fmt.Sprint(h.Seq) + ", but the session is gone"})
				continue
			}
			s, err := decodeSession(raw)
			if err != nil {
				out = append(out, Break{Session: h.Session, Seq: h.Seq, Reason: fmt.Sprintf("session record: %v", err)})
				continue
			}
			if reason := holdsHead(tx, s, h.Seq, h.Hash); reason != "" {
				out = append(out, Break{Session: h.Session, Seq: h.Seq, Reason: fmt.Sprintf("checkpointed at event %d, but %s", h.Seq, reason)})
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: check heads: %w", err)
	}
	return out, nil
}

// Sign sets c.Sig: the HMAC-SHA256 under key of c with Sig empty.
func (c *Checkpoint) Sign(key []byte) error {
	mac, err := c.mac(key)
	if err != nil {
		return err
	}
	c.Sig = hex.EncodeToString(mac)
	return nil
}

func (c Checkpoint) mac(key []byte) ([]byte, error) {
	c.Sig = ""
	c.Time = c.Time.UTC()
	b, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode checkpoint: %w", err)
	}
	m := hmac.New(sha256.New, key)
	m.Write(b)
	return m.Sum(nil), nil
}

// checkSig reports whether c.Sig is its signature under key.
func (c Checkpoint) checkSig(key []byte) bool {
	want, err := c.mac(key)
	got, herr := hex.DecodeString(c.Sig)
	return err == nil && herr == nil && hmac.Equal(want, got)
}

// AppendCheckpoint appends c as one JSON line to the file at path
// (created 0600 if missing) and fsyncs it before returning.
func AppendCheckpoint(path string, c Checkpoint) error {
	line, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("store: anchor: encode checkpoint: %w", err)
	}
	_, statErr := os.Stat(path)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("store: anchor: %w", err)
	}
	_, err = f.Write(append(line, '\n'))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil && errors.Is(statErr, os.ErrNotExist) {
		err = syncDir(filepath.Dir(path)) // the new file's name is durable too
	}
	if err != nil {
		return fmt.Errorf("store: anchor: write %s: %w", path, err)
	}
	return nil
}

// ReadCheckpoints reads an anchor file's checkpoints and checks each one's
// signature under key and its link to the one before. It fails at the
// first line that is not an intact checkpoint, naming the line: an anchor
// that cannot be trusted whole proves nothing. The one exception is a last
// line with no newline (a crash while it was written): it is left out, and
// end, the length of what was read intact, says where it begins.
func ReadCheckpoints(r io.Reader, key []byte) (cps []Checkpoint, end int64, err error) {
	br := bufio.NewReaderSize(r, 64<<10)
	for line := 1; ; line++ {
		b, err := br.ReadBytes('\n')
		if errors.Is(err, io.EOF) {
			return cps, end, nil // b, if any, is a torn last line
		}
		if err != nil {
			return nil, 0, fmt.Errorf("store: anchor: %w", err)
		}
		var c Checkpoint
		if err := decodeStrict(b, &c); err != nil {
			return nil, 0, fmt.Errorf("store: anchor: line %d: not a checkpoint: %w", line, err)
		}
		if !c.checkSig(key) {
			return nil, 0, fmt.Errorf("store: anchor: line %d: the signature does not match: forged, altered, or signed with another key", line)
		}
		prev := ""
		if len(cps) > 0 {
			prev = cps[len(cps)-1].Sig
		}
		if c.Prev != prev {
			return nil, 0, fmt.Errorf("store: anchor: line %d: does not follow the checkpoint before it: a checkpoint was removed", line)
		}
		cps = append(cps, c)
		end += int64(len(b))
	}
}
