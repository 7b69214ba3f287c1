package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
)

// The session's Data on the chain.
//
// A session record's Data is the state warden resumes a session from
// (bound variables, workflow position, budgets), so the chain must cover
// it too: AppendWithData stores in the event the digest of the Data it
// writes (Event.DataSHA256), and the chain's hash covers the event. The
// record's Data must then equal what the last such event committed to;
// Verify and CheckData compare them. Events written before this existed
// carry no digest (the field is omitted, so their hashes still verify):
// a chain without any leaves its record's Data uncommitted, which Verify
// counts and a resume refuses.

// errDataUncommitted is wrapped by CheckData's error for a session whose
// Data no event of its chain commits to.
var errDataUncommitted = errors.New("no event of the chain commits to the session's state")

// dataDigest is the hex SHA-256 of data as a session record stores it
// (json.Marshal's compact, HTML-escaped form; empty is null), so that it
// is the same before the write and after a read.
func dataDigest(data json.RawMessage) (string, error) {
	if len(data) == 0 {
		data = json.RawMessage("null")
	}
	b, err := json.Marshal(data)
	if err != nil {
		return "", fmt.Errorf("session data: %w", err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// hasData reports whether a record holds any state (null is none).
func hasData(data json.RawMessage) bool {
	return len(data) > 0 && string(data) != "null"
}

// dataCommit follows, event by event, what a chain commits the session's
// Data to: the digest of the last event that carries one.
type dataCommit struct {
	seq    uint64
	digest string
}

func (c *dataCommit) see(ev Event) {
	if ev.DataSHA256 != "" {
		c.seq, c.digest = ev.Seq, ev.DataSHA256
	}
}

// check compares the record's Data with the commitment; a non-empty
// reason says how it differs. uncommitted is set for Data that no event
// commits to, which a chain written before digests existed has; pruned
// says the chain's events were pruned, which cleared Data, so any Data
// with no later commitment was put there since.
func (c dataCommit) check(data json.RawMessage, pruned bool) (reason string, uncommitted bool) {
	if c.digest == "" {
		switch {
		case !hasData(data):
			return "", false
		case pruned:
			return "the session record has state, but its events were pruned, which cleared it, and no event since commits to it: the state was added", false
		}
		return "", true
	}
	got, err := dataDigest(data)
	if err != nil {
		return err.Error(), false
	}
	if got != c.digest {
		return fmt.Sprintf("the session record's state does not match the digest event %d committed to: the state was altered", c.seq), false
	}
	return "", false
}

// CheckData reports whether rec's Data is what its chain evs (as Events
// returns it) commits to. It fails for altered Data, and for Data that no
// event commits to (a chain written before the digests, or Data put into
// a record that never had any): state to be trusted must be on the chain.
func CheckData(rec Session, evs []Event) error {
	var c dataCommit
	for _, ev := range evs {
		c.see(ev)
	}
	reason, uncommitted := c.check(rec.Data, false)
	switch {
	case uncommitted:
		return fmt.Errorf("session %q: %w", rec.ID, errDataUncommitted)
	case reason != "":
		return fmt.Errorf("session %q: %s", rec.ID, reason)
	}
	return nil
}
