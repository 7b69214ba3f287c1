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
	"time"

	bolt "go.etcd.io/bbolt"
)

// Approvals: a held call waiting for a human. The layout adds three
// buckets, made by the first CreateApproval (reads treat a missing bucket
// as empty, so an old file needs no migration):
//
//	approvals          id -> Approval
//	approvals_created  8-byte big-endian Created (UnixNano, sign bit flipped) + id -> empty
//	approvals_pending  id -> empty, for pending approvals only
//
// The created index lets Approvals list newest first; the pending index
// lets ExpireApprovals touch only what is still open, however long the
// history grows.
var (
	bucketApprovals        = []byte("approvals")
	bucketApprovalsCreated = []byte("approvals_created")
	bucketApprovalsPending = []byte("approvals_pending")
)

// Approval states.
const (
	ApprovalPending  = "pending"
	ApprovalApproved = "approved"
	ApprovalDenied   = "denied"
	ApprovalExpired  = "expired"
)

// Decisions an approver can make.
const (
	// DecisionOnce approves this one call.
	DecisionOnce = "once"
	// DecisionSession approves the call and its step for the rest of the session.
	DecisionSession = "session"
	// DecisionDeny denies the call.
	DecisionDeny = "deny"
	// DecisionDenyKill denies the call and kills the session.
	DecisionDenyKill = "deny_kill"
)

var (
	// ErrDecided is wrapped by DecideApproval's error when the approval was
	// already decided: a decision is used once.
	ErrDecided = errors.New("already decided")
	// ErrExpired is wrapped by DecideApproval's error when the approval
	// expired before the decision (its call is no longer held).
	ErrExpired = errors.New("expired")
)

// Approval is a held call and, once made, the decision on it.
type Approval struct {
	ID       string          `json:"id"`
	Session  string          `json:"session"`
	Agent    string          `json:"agent"`
	CallID   string          `json:"call_id,omitempty"`
	Tool     string          `json:"tool"`
	Upstream string          `json:"upstream,omitempty"`
	Args     json.RawMessage `json:"args,omitempty"`
	// ArgsDigest is DigestArgs(Args): a decision binds to these exact
	// arguments. CreateApproval fills it in when empty.
	ArgsDigest string    `json:"args_digest"`
	Reasons    []string  `json:"reasons,omitempty"`
	Created    time.Time `json:"created"`
	Expires    time.Time `json:"expires"`
	// State is one of ApprovalPending, ApprovalApproved, ApprovalDenied,
	// ApprovalExpired.
	State string `json:"state"`
	// Decision is one of the Decision constants once decided, else empty.
	Decision  string    `json:"decision,omitempty"`
	DecidedBy string    `json:"decided_by,omitempty"`
	DecidedAt time.Time `json:"decided_at,omitzero"`
	// Note says why an approval expired, or anything the creator adds.
	Note string `json:"note,omitempty"`
}

// ApprovalFilter selects approvals for Approvals. Zero fields match everything.
type ApprovalFilter struct {
	Session string
	Agent   string
	State   string
	// Limit caps the number returned; 0 means no cap.
	Limit int
}

// DigestArgs returns the hex SHA-256 of args in canonical form: compact,
// object keys sorted, numbers as written. Empty args and JSON null count as
// {}, since MCP treats absent arguments as an empty object.
func DigestArgs(args json.RawMessage) (string, error) {
	canon := []byte("{}")
	if t := bytes.TrimSpace(args); len(t) > 0 && !bytes.Equal(t, []byte("null")) {
		dec := json.NewDecoder(bytes.NewReader(t))
		dec.UseNumber() // keeps 1e2 and 100 distinct rather than rounding big integers
		var v any
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("digest args: %w", err)
		}
		if dec.More() {
			return "", errors.New("digest args: trailing data after the value")
		}
		var err error
		// encoding/json writes map keys sorted, which is the canonical order.
		if canon, err = json.Marshal(v); err != nil {
			return "", fmt.Errorf("digest args: %w", err)
		}
	}
	sum := sha256.Sum256(canon)
	return hex.EncodeToString(sum[:]), nil
}

func validDecision(d string) bool {
	switch d {
	case DecisionOnce, DecisionSession, DecisionDeny, DecisionDenyKill:
		return true
	}
	return false
}

func validApprovalState(s string) bool {
	switch s {
	case ApprovalPending, ApprovalApproved, ApprovalDenied, ApprovalExpired:
		return true
	}
	return false
}

// approvalCreatedKey orders approvals by creation time, then id.
func approvalCreatedKey(t time.Time, id string) []byte {
	k := make([]byte, 8, 8+len(id))
	binary.BigEndian.PutUint64(k, uint64(t.UnixNano())^(1<<63))
	return append(k, id...)
}

func decodeApproval(b []byte) (Approval, error) {
	var a Approval
	if err := decodeStrict(b, &a); err != nil {
		return Approval{}, fmt.Errorf("decode approval: %w", err)
	}
	if a.ID == "" {
		return Approval{}, errors.New("decode approval: empty id")
	}
	return a, nil
}

func putApproval(b *bolt.Bucket, a Approval) error {
	val, err := json.Marshal(&a)
	if err != nil {
		return fmt.Errorf("encode approval %q: %w", a.ID, err)
	}
	return b.Put([]byte(a.ID), val)
}

// approvalBuckets creates the approval buckets if needed, inside a write.
func approvalBuckets(tx *bolt.Tx) (all, created, pending *bolt.Bucket, err error) {
	if all, err = tx.CreateBucketIfNotExists(bucketApprovals); err != nil {
		return nil, nil, nil, fmt.Errorf("bucket %s: %w", bucketApprovals, err)
	}
	if created, err = tx.CreateBucketIfNotExists(bucketApprovalsCreated); err != nil {
		return nil, nil, nil, fmt.Errorf("bucket %s: %w", bucketApprovalsCreated, err)
	}
	if pending, err = tx.CreateBucketIfNotExists(bucketApprovalsPending); err != nil {
		return nil, nil, nil, fmt.Errorf("bucket %s: %w", bucketApprovalsPending, err)
	}
	return all, created, pending, nil
}

// CreateApproval records a pending approval. ID, Session, Tool and a
// non-zero Expires are required; a zero Created becomes now, an empty State
// becomes ApprovalPending (no other state is accepted), and an empty
// ArgsDigest is computed from Args (a given one must match). The error
// wraps ErrExists if the id is taken.
func (d *DB) CreateApproval(ctx context.Context, a Approval) error {
	a, err := PrepareApproval(a)
	if err != nil {
		return err
	}
	id := []byte(a.ID)
	return d.w.do(ctx, func(tx *bolt.Tx) error {
		// Creating the buckets is harmless when the op fails after: they
		// are empty and reads treat them like missing ones.
		all, created, pending, err := approvalBuckets(tx)
		if err != nil {
			return abort(fmt.Errorf("create approval %q: %w", a.ID, err))
		}
		if all.Get(id) != nil {
			return fmt.Errorf("store: create approval %q: %w", a.ID, ErrExists)
		}
		if err := putApproval(all, a); err != nil {
			return abort(err)
		}
		if err := created.Put(approvalCreatedKey(a.Created, a.ID), nil); err != nil {
			return abort(fmt.Errorf("approval %q: %w", a.ID, err))
		}
		return abort(pending.Put(id, nil))
	})
}

// Approval returns the approval with the given id; the error wraps
// ErrNotFound when there is none.
func (d *DB) Approval(ctx context.Context, id string) (Approval, error) {
	var a Approval
	err := d.view(ctx, func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketApprovals)
		if b == nil {
			return ErrNotFound
		}
		raw := b.Get([]byte(id))
		if raw == nil {
			return ErrNotFound
		}
		var err error
		a, err = decodeApproval(raw)
		return err
	})
	if err != nil {
		return Approval{}, fmt.Errorf("store: approval %q: %w", id, err)
	}
	return a, nil
}

// Approvals lists the approvals that match f, newest Created first.
func (d *DB) Approvals(ctx context.Context, f ApprovalFilter) ([]Approval, error) {
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: approvals: negative limit %d", f.Limit)
	}
	if f.State != "" && !validApprovalState(f.State) {
		return nil, fmt.Errorf("store: approvals: unknown state %q (want %s, %s, %s or %s)", f.State, ApprovalPending, ApprovalApproved, ApprovalDenied, ApprovalExpired)
	}
	var out []Approval
	err := d.view(ctx, func(tx *bolt.Tx) error {
		all, idx := tx.Bucket(bucketApprovals), tx.Bucket(bucketApprovalsCreated)
		if all == nil || idx == nil {
			return nil
		}
		c := idx.Cursor()
		for k, _ := c.Last(); k != nil; k, _ = c.Prev() {
			if len(k) < 8 {
				return fmt.Errorf("malformed approval index key %x", k)
			}
			raw := all.Get(k[8:])
			if raw == nil {
				return fmt.Errorf("index names approval %q, which has no record", k[8:])
			}
			a, err := decodeApproval(raw)
			if err != nil {
				return err
			}
			if (f.Session != "" && a.Session != f.Session) || (f.Agent != "" && a.Agent != f.Agent) || (f.State != "" && a.State != f.State) {
				continue
			}
			out = append(out, a)
			if f.Limit > 0 && len(out) == f.Limit {
				break
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("store: approvals: %w", err)
	}
	return out, nil
}

// DecideApproval records decision (a Decision constant) by `by` on the
// approval, exactly once: only a pending approval whose Expires is after
// now can be decided. A second decision gets an error wrapping ErrDecided;
// a decision at or after Expires gets one wrapping ErrExpired, and the
// approval is marked expired. On those errors the approval is returned as
// stored, so the caller can say who decided first. A zero now means
// time.Now().
func (d *DB) DecideApproval(ctx context.Context, id, decision, by string, now time.Time) (Approval, error) {
	if err := checkDecision(id, decision, by); err != nil {
		return Approval{}, err
	}
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	key := []byte(id)
	var (
		got     Approval
		expired bool // set when this op marked it expired: the write commits, the caller gets ErrExpired
	)
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		expired = false
		all := tx.Bucket(bucketApprovals)
		if all == nil {
			return fmt.Errorf("store: decide approval %q: %w", id, ErrNotFound)
		}
		raw := all.Get(key)
		if raw == nil {
			return fmt.Errorf("store: decide approval %q: %w", id, ErrNotFound)
		}
		a, err := decodeApproval(raw)
		if err != nil {
			return fmt.Errorf("store: decide approval %q: %w", id, err)
		}
		got = a
		if a, expired, err = Decide(a, decision, by, now); err != nil {
			return err
		}
		if err := putApproval(all, a); err != nil {
			return abort(err)
		}
		if p := tx.Bucket(bucketApprovalsPending); p != nil {
			if err := p.Delete(key); err != nil {
				return abort(fmt.Errorf("approval %q: %w", id, err))
			}
		}
		got = a
		return nil
	})
	if err != nil {
		return got, err
	}
	if expired {
		return got, fmt.Errorf("store: decide approval %q: it expired at %s: %w", id, got.Expires.Format(time.RFC3339), ErrExpired)
	}
	return got, nil
}

// ExpireApprovals marks as expired the pending approvals whose Expires is
// at or before now, or every pending approval when all is true (at
// startup: a call held when warden stopped is gone with its connection).
// It returns how many it marked.
func (d *DB) ExpireApprovals(ctx context.Context, now time.Time, all bool) (int, error) {
	if now.IsZero() {
		now = time.Now()
	}
	now = now.UTC()
	note := "no decision before it expired"
	if all {
		note = "warden restarted while the call was held"
	}
	var n int
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		n = 0
		approvals, pending := tx.Bucket(bucketApprovals), tx.Bucket(bucketApprovalsPending)
		if approvals == nil || pending == nil {
			return nil
		}
		// Collect first: bbolt cursors must not run over keys deleted under them.
		var ids [][]byte
		err := pending.ForEach(func(k, _ []byte) error {
			ids = append(ids, bytes.Clone(k))
			return nil
		})
		if err != nil {
			return fmt.Errorf("store: expire approvals: %w", err)
		}
		// Errors from here on are aborts: earlier approvals of this op may
		// already be written, and the op must not commit half done.
		for _, id := range ids {
			raw := approvals.Get(id)
			if raw == nil {
				return abort(fmt.Errorf("expire approvals: pending index names %q, which has no record", id))
			}
			a, err := decodeApproval(raw)
			if err != nil {
				return abort(fmt.Errorf("expire approvals: %w", err))
			}
			if a.State == ApprovalPending && !all && now.Before(a.Expires) {
				continue
			}
			if a.State == ApprovalPending {
				a.State, a.Note = ApprovalExpired, note
				if err := putApproval(approvals, a); err != nil {
					return abort(err)
				}
				n++
			}
			if err := pending.Delete(id); err != nil {
				return abort(fmt.Errorf("approval %q: %w", id, err))
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// ExpireApproval marks one pending approval expired, whatever its Expires
// (its call is gone: the agent left, or warden is stopping), with note as
// the reason. An approval no longer pending is left as it is and returned.
func (d *DB) ExpireApproval(ctx context.Context, id, note string) (Approval, error) {
	var out Approval
	err := d.w.do(ctx, func(tx *bolt.Tx) error {
		approvals, pending := tx.Bucket(bucketApprovals), tx.Bucket(bucketApprovalsPending)
		if approvals == nil {
			return fmt.Errorf("store: approval %q: %w", id, ErrNotFound)
		}
		raw := approvals.Get([]byte(id))
		if raw == nil {
			return fmt.Errorf("store: approval %q: %w", id, ErrNotFound)
		}
		a, err := decodeApproval(raw)
		if err != nil {
			return fmt.Errorf("store: approval %q: %w", id, err)
		}
		out = a
		if a.State != ApprovalPending {
			return nil
		}
		a.State, a.Note = ApprovalExpired, note
		if err := putApproval(approvals, a); err != nil {
			return abort(err)
		}
		if pending != nil {
			if err := pending.Delete([]byte(id)); err != nil {
				return abort(fmt.Errorf("approval %q: %w", id, err))
			}
		}
		out = a
		return nil
	})
	return out, err
}

// PrepareApproval checks a as CreateApproval takes it and returns it as
// it is to be stored. Every Store's CreateApproval runs it.
func PrepareApproval(a Approval) (Approval, error) {
	switch {
	case a.ID == "":
		return a, errors.New("store: create approval: empty id")
	case a.Session == "":
		return a, fmt.Errorf("store: create approval %q: empty session", a.ID)
	case a.Tool == "":
		return a, fmt.Errorf("store: create approval %q: empty tool", a.ID)
	case a.State != "" && a.State != ApprovalPending:
		return a, fmt.Errorf("store: create approval %q: state must be %q, got %q", a.ID, ApprovalPending, a.State)
	case a.Decision != "" || a.DecidedBy != "" || !a.DecidedAt.IsZero():
		return a, fmt.Errorf("store: create approval %q: decision fields are set by DecideApproval", a.ID)
	case a.Expires.IsZero():
		return a, fmt.Errorf("store: create approval %q: zero Expires", a.ID)
	}
	if a.Created.IsZero() {
		a.Created = time.Now()
	}
	if !a.Expires.After(a.Created) {
		return a, fmt.Errorf("store: create approval %q: expires %s is not after created %s", a.ID, a.Expires.Format(time.RFC3339Nano), a.Created.Format(time.RFC3339Nano))
	}
	digest, err := DigestArgs(a.Args)
	if err != nil {
		return a, fmt.Errorf("store: create approval %q: %w", a.ID, err)
	}
	if a.ArgsDigest != "" && a.ArgsDigest != digest {
		return a, fmt.Errorf("store: create approval %q: args digest %q does not match args (%q)", a.ID, a.ArgsDigest, digest)
	}
	a.ArgsDigest, a.State = digest, ApprovalPending
	a.Created, a.Expires = a.Created.UTC(), a.Expires.UTC()
	if len(a.Args) > 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, a.Args); err != nil {
			return a, fmt.Errorf("store: create approval %q: args: %w", a.ID, err)
		}
		a.Args = buf.Bytes()
	}
	return a, nil
}

func checkDecision(id, decision, by string) error {
	if !validDecision(decision) {
		return fmt.Errorf("store: decide approval %q: unknown decision %q (want %s, %s, %s or %s)", id, decision, DecisionOnce, DecisionSession, DecisionDeny, DecisionDenyKill)
	}
	if by == "" {
		return fmt.Errorf("store: decide approval %q: empty decider: every decision records who made it", id)
	}
	return nil
}

// Decide applies decision by `by` at now (UTC, not zero) to the stored
// approval a, for DecideApproval: it returns a as it is to be stored, and
// expired when it came too late (store it, then answer ErrExpired); an
// error wrapping ErrDecided or ErrExpired means a was not pending and is
// to be left as it is. Every Store's DecideApproval runs it inside the
// transaction that holds a, so that exactly one decision wins.
func Decide(a Approval, decision, by string, now time.Time) (_ Approval, expired bool, _ error) {
	if err := checkDecision(a.ID, decision, by); err != nil {
		return a, false, err
	}
	id := a.ID
	switch a.State {
	case ApprovalPending:
	case ApprovalExpired:
		return a, false, fmt.Errorf("store: decide approval %q: it expired at %s (%s): %w", id, a.Expires.Format(time.RFC3339), a.Note, ErrExpired)
	default:
		return a, false, fmt.Errorf("store: decide approval %q: %s (%s) by %s at %s: %w", id, a.State, a.Decision, a.DecidedBy, a.DecidedAt.Format(time.RFC3339), ErrDecided)
	}
	if !now.Before(a.Expires) {
		a.State, a.Note = ApprovalExpired, "expired before a decision ("+decision+" by "+by+" came too late)"
		return a, true, nil
	}
	a.State = ApprovalApproved
	if decision == DecisionDeny || decision == DecisionDenyKill {
		a.State = ApprovalDenied
	}
	a.Decision, a.DecidedBy, a.DecidedAt = decision, by, now
	return a, false, nil
}
