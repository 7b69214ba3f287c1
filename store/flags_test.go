package store

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"
)

// seedFlags records two sessions: s1 (agent ops) with an allowed call, a
// flagged call and a signal flagged on a change of hands, ended; s2 (agent
// dev) with a flagged result. It returns the flagged events' ids, oldest
// first.
func seedFlags(t *testing.T, db *DB) []string {
	t.Helper()
	ctx := t.Context()
	base := time.Now().Add(-time.Hour).UTC()
	mustCreate(t, db, "s1", "ops", base)
	mustCreate(t, db, "s2", "dev", base.Add(time.Minute))
	var ids []string
	for _, a := range []struct {
		session string
		ev      Event
	}{
		{"s1", Event{Kind: KindCall, Tool: "read", Verdict: "allow", Time: base.Add(time.Second)}},
		{"s1", Event{Kind: KindCall, Tool: "pay", Verdict: "flag", Reasons: []string{"amount over 100"}, Time: base.Add(2 * time.Second)}},
		{"s1", Event{Kind: KindSignal, Verdict: "flag", Reasons: []string{"user agent changed"}, Time: base.Add(3 * time.Second),
			Data: []byte(`{"signal":{"name":"user_agent_changed","weight":0.5}}`)}},
		{"s2", Event{Kind: KindResult, Tool: "fetch", Verdict: "flag", Reasons: []string{"result mentions a key"}, Time: base.Add(30 * time.Minute)}},
	} {
		ev, err := db.Append(ctx, a.session, a.ev)
		if err != nil {
			t.Fatal(err)
		}
		if ev.Verdict == "flag" {
			ids = append(ids, FlagID(a.session, ev.Seq))
		}
	}
	if err := db.UpdateSession(ctx, "s1", func(s *Session) error { s.State = StateEnded; return nil }); err != nil {
		t.Fatal(err)
	}
	return ids
}

// TestFlagsListed: every flagged event, and only those, is in the queue,
// open, with what the event says; filters select by state, agent and time.
func TestFlagsListed(t *testing.T) {
	db, _ := openTest(t, WithSessionLog())
	ids := seedFlags(t, db)
	if _, err := db.ReviewFlag(t.Context(), ids[0], "alice", "known customer"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		f    FlagFilter
		want []string // ids, newest first
	}{
		{"all", FlagFilter{}, []string{ids[2], ids[1], ids[0]}},
		{"open", FlagFilter{State: FlagOpen}, []string{ids[2], ids[1]}},
		{"reviewed", FlagFilter{State: FlagReviewed}, []string{ids[0]}},
		{"one agent", FlagFilter{Agent: "ops"}, []string{ids[1], ids[0]}},
		{"since", FlagFilter{Since: time.Now().Add(-45 * time.Minute)}, []string{ids[2]}},
		{"limit", FlagFilter{Limit: 1}, []string{ids[2]}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			list, err := db.Flags(t.Context(), tc.f)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, f := range list {
				got = append(got, f.ID)
			}
			if strings.Join(got, " ") != strings.Join(tc.want, " ") {
				t.Fatalf("Flags(%+v) = %v, want %v", tc.f, got, tc.want)
			}
		})
	}
	sig, err := db.Flag(t.Context(), ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if sig.Agent != "ops" || sig.Kind != KindSignal || len(sig.Signals) != 1 || sig.Signals[0] != "user_agent_changed" ||
		sig.Reasons[0] != "user agent changed" || sig.State != FlagOpen {
		t.Fatalf("signal flag = %+v", sig)
	}
	if _, err := db.Flags(t.Context(), FlagFilter{State: "closed"}); err == nil {
		t.Fatal("an unknown state was accepted")
	}
}

// TestReviewFlagOnce: a review is recorded with who and the note, a second
// is refused naming the first, an event that is not flagged cannot be
// reviewed, and the review is on the chain: it survives a reopen and the
// chains (and the session log, the session being ended) still verify.
func TestReviewFlagOnce(t *testing.T) {
	db, path := openTest(t, WithSessionLog())
	ids := seedFlags(t, db)
	ctx := t.Context()
	got, err := db.ReviewFlag(ctx, ids[0], "alice", "known customer")
	if err != nil {
		t.Fatal(err)
	}
	if got.State != FlagReviewed || got.Reviewer != "alice" || got.Note != "known customer" || got.Reviewed.IsZero() {
		t.Fatalf("reviewed flag = %+v", got)
	}
	if _, err := db.ReviewFlag(ctx, ids[0], "bob", "again"); !errors.Is(err, ErrDecided) || !strings.Contains(err.Error(), "reviewed by alice") {
		t.Fatalf("second review: %v, want ErrDecided naming alice", err)
	}
	for _, id := range []string{"s1.1", "s1.99", "nope.2", "s1", "s1.x"} {
		if _, err := db.ReviewFlag(ctx, id, "alice", "x"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("review %q: %v, want ErrNotFound", id, err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path, WithSessionLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db2.Close() })
	again, err := db2.Flag(context.Background(), ids[0])
	if err != nil || again.State != FlagReviewed || again.Reviewer != "alice" || again.Note != "known customer" {
		t.Fatalf("after reopen: %+v, %v", again, err)
	}
	rep, err := db2.Verify(context.Background())
	if err != nil || len(rep.Broken) != 0 {
		t.Fatalf("Verify after a review: %+v, %v", rep, err)
	}
}

// TestReviewFlagRace: of reviews made at once, exactly one is recorded.
func TestReviewFlagRace(t *testing.T) {
	db, _ := openTest(t)
	ids := seedFlags(t, db)
	const n = 8
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := db.ReviewFlag(t.Context(), ids[2], "r"+string(rune('a'+i)), "note")
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	ok := 0
	for err := range errs {
		switch {
		case err == nil:
			ok++
		case !errors.Is(err, ErrDecided):
			t.Fatalf("review: %v", err)
		}
	}
	evs, err := db.Events(t.Context(), "s2")
	if err != nil {
		t.Fatal(err)
	}
	reviews := 0
	for _, ev := range evs {
		if ev.Kind == KindFlagReview {
			reviews++
		}
	}
	if ok != 1 || reviews != 1 {
		t.Fatalf("%d reviews succeeded, %d recorded; want 1 and 1", ok, reviews)
	}
}
