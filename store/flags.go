package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The review queue. A flag is not a record of its own: it is an event of a
// session's chain whose verdict is "flag" (a call or result a policy
// flagged, a signal answered with a flag). The queue is read from the
// chains, so it holds exactly the flags that are on record: one that was
// acknowledged is there, and none can be added or dropped without a chain
// changing. A review is a flag_review event on the same chain, so it is as
// tamper-evident as the flag; a flag is reviewed at most once.

// KindFlagReview is a review of a flag, on the flagged event's chain
// (Data: flagReview).
const KindFlagReview = "flag_review"

// Flag states.
const (
	FlagOpen     = "open"
	FlagReviewed = "reviewed"
)

// verdictFlag is the verdict of a flagged event.
const verdictFlag = "flag"

// Flag is a flagged event as the review queue shows it.
type Flag struct {
	// ID is the session's id and the event's seq: "<session>.<seq>".
	ID      string    `json:"id"`
	Session string    `json:"session"`
	Seq     uint64    `json:"seq"`
	Agent   string    `json:"agent"`
	Time    time.Time `json:"time"`
	Kind    string    `json:"kind"` // the flagged event's kind: call, result, signal, ...
	Tool    string    `json:"tool,omitempty"`
	Reasons []string  `json:"reasons"`
	// Signals names the signals a signal event carries.
	Signals  []string  `json:"signals,omitempty"`
	State    string    `json:"state"` // FlagOpen or FlagReviewed
	Reviewer string    `json:"reviewer,omitempty"`
	Note     string    `json:"note,omitempty"`
	Reviewed time.Time `json:"reviewed,omitzero"`
}

// FlagFilter selects flags for Flags. Zero fields match everything.
type FlagFilter struct {
	State string // FlagOpen or FlagReviewed
	Agent string
	Since time.Time // flagged at or after
	Limit int       // at most this many, newest first; 0 means no cap
}

// flagReview is the Data of a flag_review event.
type flagReview struct {
	Seq  uint64 `json:"seq"` // the flagged event's
	By   string `json:"by"`
	Note string `json:"note"`
}

// FlagID names the flag on event seq of session.
func FlagID(session string, seq uint64) string {
	return session + "." + strconv.FormatUint(seq, 10)
}

// ParseFlagID splits a flag id at its last dot; the error wraps
// ErrNotFound for an id that names no flag.
func ParseFlagID(id string) (session string, seq uint64, err error) {
	i := strings.LastIndexByte(id, '.')
	if i > 0 {
		if seq, err = strconv.ParseUint(id[i+1:], 10, 64); err == nil && seq > 0 {
			return id[:i], seq, nil
		}
	}
	return "", 0, fmt.Errorf("no flag %q (a flag id is <session>.<seq>): %w", id, ErrNotFound)
}

// Flags lists the flags f selects, newest first.
func (d *DB) Flags(ctx context.Context, f FlagFilter) ([]Flag, error) { return ListFlags(ctx, d, f) }

// FlagSource is what the review queue reads: every Store is one.
type FlagSource interface {
	Sessions(ctx context.Context, f Filter) ([]Session, error)
	Session(ctx context.Context, id string) (Session, error)
	Events(ctx context.Context, sessionID string) ([]Event, error)
}

// ListFlags is Flags over any Store's chains.
func ListFlags(ctx context.Context, d FlagSource, f FlagFilter) ([]Flag, error) {
	switch f.State {
	case "", FlagOpen, FlagReviewed:
	default:
		return nil, fmt.Errorf("store: flags: state %q: want %s or %s", f.State, FlagOpen, FlagReviewed)
	}
	if f.Limit < 0 {
		return nil, fmt.Errorf("store: flags: negative limit %d", f.Limit)
	}
	sessions, err := d.Sessions(ctx, Filter{Agent: f.Agent})
	if err != nil {
		return nil, fmt.Errorf("store: flags: %w", err)
	}
	var out []Flag
	for _, s := range sessions {
		if s.LastSeen.Before(f.Since) {
			continue // nothing on its chain is that recent
		}
		evs, err := d.Events(ctx, s.ID)
		if err != nil {
			return nil, fmt.Errorf("store: flags of session %s: %w", s.ID, err)
		}
		for _, fl := range flagsOf(s, evs) {
			if (f.State == "" || fl.State == f.State) && !fl.Time.Before(f.Since) {
				out = append(out, fl)
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Flag) int { return b.Time.Compare(a.Time) })
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Flag returns one flag; the error wraps ErrNotFound when there is none.
func (d *DB) Flag(ctx context.Context, id string) (Flag, error) {
	fl, _, err := FindFlag(ctx, d, id)
	return fl, err
}

// ReviewFlag records that by reviewed flag id, with note, once: a flag
// already reviewed is ErrDecided, and the flag as it stands is returned
// with it. The review is an event on the flag's chain.
func (d *DB) ReviewFlag(ctx context.Context, id, by, note string) (Flag, error) {
	if by == "" {
		return Flag{}, errors.New("store: review flag: who reviews is required")
	}
	// One review at a time, so that two cannot both find the flag open.
	d.flagMu.Lock()
	defer d.flagMu.Unlock()
	fl, _, err := FindFlag(ctx, d, id)
	if err != nil {
		return Flag{}, err
	}
	review, err := FlagReview(fl, by, note)
	if err != nil {
		return fl, err
	}
	ev, err := d.Append(ctx, fl.Session, review)
	if err != nil {
		return Flag{}, fmt.Errorf("store: review flag %s: %w", id, err)
	}
	fl.State, fl.Reviewer, fl.Note, fl.Reviewed = FlagReviewed, by, note, ev.Time
	return fl, nil
}

// FlagReview is the event that records by's review of fl, with note; the
// error wraps ErrDecided when fl was reviewed already. A Store appends it
// to fl's chain, with nothing else reviewing the flag meanwhile.
func FlagReview(fl Flag, by, note string) (Event, error) {
	if by == "" {
		return Event{}, errors.New("store: review flag: who reviews is required")
	}
	if fl.State == FlagReviewed {
		return Event{}, fmt.Errorf("flag %s was reviewed by %s at %s: %w", fl.ID, fl.Reviewer, fl.Reviewed.Format(time.RFC3339), ErrDecided)
	}
	data, err := json.Marshal(flagReview{Seq: fl.Seq, By: by, Note: note})
	if err != nil {
		return Event{}, fmt.Errorf("store: review flag %s: %w", fl.ID, err)
	}
	return Event{Kind: KindFlagReview, Reasons: []string{"flag " + fl.ID + " reviewed by " + by}, Data: data}, nil
}

// FindFlag finds flag id on its chain, in any Store.
func FindFlag(ctx context.Context, d FlagSource, id string) (Flag, Session, error) {
	sid, seq, err := ParseFlagID(id)
	if err != nil {
		return Flag{}, Session{}, err
	}
	s, err := d.Session(ctx, sid)
	if errors.Is(err, ErrNotFound) {
		return Flag{}, s, fmt.Errorf("no flag %q: no session %q: %w", id, sid, ErrNotFound)
	}
	if err != nil {
		return Flag{}, s, err
	}
	evs, err := d.Events(ctx, sid)
	if err != nil {
		return Flag{}, s, err
	}
	if fl, ok := FlagAt(s, evs, seq); ok {
		return fl, s, nil
	}
	return Flag{}, s, fmt.Errorf("no flag %q: event %d of session %s is not flagged: %w", id, seq, sid, ErrNotFound)
}

// FlagAt is the flag on event seq of a session's chain, with its review.
func FlagAt(s Session, evs []Event, seq uint64) (Flag, bool) {
	for _, fl := range flagsOf(s, evs) {
		if fl.Seq == seq {
			return fl, true
		}
	}
	return Flag{}, false
}

// flagsOf is the flags of a session's chain, in order, with their reviews.
func flagsOf(s Session, evs []Event) []Flag {
	var out []Flag
	at := map[uint64]int{}
	for _, ev := range evs {
		switch {
		case ev.Kind == KindFlagReview:
			var r flagReview
			if json.Unmarshal(ev.Data, &r) != nil {
				continue
			}
			// The first review of a flag is the one that counts.
			if i, ok := at[r.Seq]; ok && out[i].State == FlagOpen {
				out[i].State, out[i].Reviewer, out[i].Note, out[i].Reviewed = FlagReviewed, r.By, r.Note, ev.Time
			}
		case ev.Verdict == verdictFlag:
			at[ev.Seq] = len(out)
			out = append(out, Flag{ID: FlagID(s.ID, ev.Seq), Session: s.ID, Seq: ev.Seq, Agent: s.Agent, Time: ev.Time,
				Kind: ev.Kind, Tool: ev.Tool, Reasons: ev.Reasons, Signals: signalNames(ev), State: FlagOpen})
		}
	}
	return out
}

// signalNames is the name of the signal a signal event carries, if any.
func signalNames(ev Event) []string {
	if ev.Kind != KindSignal {
		return nil
	}
	var d struct {
		Signal *struct {
			Name string `json:"name"`
		} `json:"signal"`
	}
	if json.Unmarshal(ev.Data, &d) != nil || d.Signal == nil || d.Signal.Name == "" {
		return nil
	}
	return []string{d.Signal.Name}
}
