package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/warden-dev/warden/store"
)

// Flags lists the flags (flagged events) that match f, newest first.
func (d *DB) Flags(ctx context.Context, f store.FlagFilter) ([]store.Flag, error) {
	return store.ListFlags(ctx, d, f)
}

// Flag returns one flag; the error wraps store.ErrNotFound when missing.
func (d *DB) Flag(ctx context.Context, id string) (store.Flag, error) {
	fl, _, err := store.FindFlag(ctx, d, id)
	return fl, err
}

// ReviewFlag records a flag's review on its chain, once: the flag is
// found and its review appended in one transaction with the session row
// locked, so two reviewers (in this process or another) cannot both find
// it open; the second gets store.ErrDecided. Unlike the session's own
// writes it is not fenced by the lease: a review is an operator's, made
// on whichever replica the operator reached, and the row lock alone keeps
// the chain one line; the serving replica keeps nothing of it in memory.
func (d *DB) ReviewFlag(ctx context.Context, id, by, note string) (store.Flag, error) {
	if by == "" {
		return store.Flag{}, fmt.Errorf("store: review flag %s: who reviews is required", id)
	}
	sid, seq, err := store.ParseFlagID(id)
	if err != nil {
		return store.Flag{}, err
	}
	var fl store.Flag
	var refused error // ErrDecided: nothing to write
	err = d.tx(ctx, func(tx pgx.Tx) error {
		s, err := lockSession(ctx, tx, sid)
		if err != nil {
			return fmt.Errorf("no session %q: %w", sid, err)
		}
		evs, err := readChain(ctx, tx, sid, 0, nil)
		if err != nil {
			return err
		}
		var ok bool
		if fl, ok = store.FlagAt(s, evs, seq); !ok {
			return fmt.Errorf("no flag %q: event %d of session %s is not flagged: %w", id, seq, sid, store.ErrNotFound)
		}
		review, err := store.FlagReview(fl, by, note)
		if err != nil {
			refused = err
			return nil
		}
		if review, err = store.PrepareEvent(sid, review, nil); err != nil {
			return err
		}
		ev, err := appendTx(ctx, tx, sid, review, nil)
		if err != nil {
			return err
		}
		fl.State, fl.Reviewer, fl.Note, fl.Reviewed = store.FlagReviewed, by, note, ev.Time
		return nil
	})
	switch {
	case err != nil:
		return store.Flag{}, fmt.Errorf("store: review flag %s: %w", id, err)
	case refused != nil:
		return fl, refused
	}
	return fl, nil
}
