package store

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// editData rewrites session id's record with fn applied to its Data, in
// the closed store's file, as someone with access to the file could.
func editData(t *testing.T, path, id string, fn func(json.RawMessage) json.RawMessage) {
	t.Helper()
	tamper(t, path, func(t *testing.T, tx *bolt.Tx) {
		sessions := tx.Bucket(bucketSessions)
		s, err := decodeSession(sessions.Get([]byte(id)))
		if err != nil {
			t.Fatal(err)
		}
		s.Data = fn(s.Data)
		v, err := json.Marshal(&s)
		if err != nil {
			t.Fatal(err)
		}
		put(t, sessions, []byte(id), v)
	})
}

// TestSessionDataOnTheChain: the state AppendWithData writes is committed
// by its event, so an offline edit of the record's Data breaks Verify and
// CheckData, while Data that no event commits to (as chains written before
// the digests have) is counted as uncommitted and refused by CheckData.
func TestSessionDataOnTheChain(t *testing.T) {
	const attacker = `{"vars":{"accounts":["c1 DE00","c1 ATTACKER"]}}`
	for _, tc := range []struct {
		name        string
		write       func(t *testing.T, db *DB) // after CreateSession of s1
		edit        func(json.RawMessage) json.RawMessage
		wantBroken  string // reason substring; "" for intact
		uncommitted bool
	}{
		{"committed, untouched", writeTwoStates, nil, "", false},
		{"committed, edited", writeTwoStates, func(json.RawMessage) json.RawMessage { return json.RawMessage(attacker) }, "state was altered", false},
		{"committed, cleared", writeTwoStates, func(json.RawMessage) json.RawMessage { return nil }, "state was altered", false},
		{"committed, set back to the earlier state", writeTwoStates, func(json.RawMessage) json.RawMessage { return json.RawMessage(`{"vars":{"n":1}}`) }, "state was altered", false},
		{"null state, untouched", func(t *testing.T, db *DB) {
			if _, err := db.AppendWithData(context.Background(), "s1", Event{Kind: KindSessionStart}, nil); err != nil {
				t.Fatal(err)
			}
		}, nil, "", false},
		{"no state ever, state added", func(t *testing.T, db *DB) { mustAppend(t, db, "s1", "a") }, func(json.RawMessage) json.RawMessage { return json.RawMessage(attacker) }, "", true},
		{"no state ever, untouched", func(t *testing.T, db *DB) { mustAppend(t, db, "s1", "a") }, nil, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t)
			mustCreate(t, db, "s1", "a", time.Now())
			tc.write(t, db)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.edit != nil {
				editData(t, path, "s1", tc.edit)
			}
			db2, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db2.Close() })
			ctx := context.Background()
			rep, err := db2.Verify(ctx)
			if err != nil {
				t.Fatal(err)
			}
			rec, err := db2.Session(ctx, "s1")
			if err != nil {
				t.Fatal(err)
			}
			evs, err := db2.Events(ctx, "s1")
			if err != nil {
				t.Fatal(err)
			}
			checkErr := CheckData(rec, evs)
			switch {
			case tc.wantBroken != "":
				if len(rep.Broken) != 1 || !strings.Contains(rep.Broken[0].Reason, tc.wantBroken) {
					t.Fatalf("verify: %+v, want one break with %q", rep, tc.wantBroken)
				}
				if checkErr == nil || !strings.Contains(checkErr.Error(), tc.wantBroken) {
					t.Fatalf("CheckData: %v, want %q", checkErr, tc.wantBroken)
				}
			case tc.uncommitted:
				if len(rep.Broken) != 0 || rep.Uncommitted != 1 {
					t.Fatalf("verify: %+v, want intact with one uncommitted", rep)
				}
				if !errors.Is(checkErr, errDataUncommitted) {
					t.Fatalf("CheckData: %v, want uncommitted", checkErr)
				}
			default:
				if len(rep.Broken) != 0 || rep.Uncommitted != 0 || checkErr != nil {
					t.Fatalf("verify: %+v, CheckData: %v; want intact", rep, checkErr)
				}
			}
		})
	}
}

// writeTwoStates writes two states with their events, the second one
// with characters that the record's encoding escapes.
func writeTwoStates(t *testing.T, db *DB) {
	t.Helper()
	ctx := context.Background()
	for _, data := range []string{`{"vars":{"n":1}}`, `{ "vars": {"n": 2, "html": "<a&b>"} }`} {
		ev, err := db.AppendWithData(ctx, "s1", Event{Kind: KindCall, Tool: "t"}, json.RawMessage(data))
		if err != nil {
			t.Fatal(err)
		}
		if ev.DataSHA256 == "" {
			t.Fatal("AppendWithData stored no digest of the state")
		}
	}
	mustAppend(t, db, "s1", "after") // an event that leaves the state as it is
}

// TestAppendRefusesACallersDataDigest: only AppendWithData commits to
// state; a caller cannot make an event claim a digest.
func TestAppendRefusesACallersDataDigest(t *testing.T) {
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	_, err := db.Append(context.Background(), "s1", Event{Kind: KindCall, DataSHA256: strings.Repeat("0", 64)})
	if err == nil || !strings.Contains(err.Error(), "DataSHA256") {
		t.Fatalf("Append with a digest: %v", err)
	}
}

// TestPrunedSessionStateStaysCleared: a prune clears a session's state
// with its events; state put back into the record afterwards has nothing
// to commit to it, and Verify reports it.
func TestPrunedSessionStateStaysCleared(t *testing.T) {
	for _, tc := range []struct {
		name   string
		edit   bool
		broken bool
	}{{"untouched", false, false}, {"state added after the prune", true, true}} {
		t.Run(tc.name, func(t *testing.T) {
			db, path := openTest(t)
			now := time.Now()
			retained(t, db, "old", "a", StateEnded, now.Add(-48*time.Hour), 3)
			if res, _ := pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now); res.Sessions != 1 {
				t.Fatalf("prune: %+v", res)
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			if tc.edit {
				editData(t, path, "old", func(json.RawMessage) json.RawMessage { return json.RawMessage(`{"bound":"forged"}`) })
			}
			db2, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = db2.Close() })
			rep := mustVerify(t, db2)
			if rep.Pruned != 1 {
				t.Fatalf("verify: %+v; want the pruned session counted", rep)
			}
			if got := len(rep.Broken) == 1 && strings.Contains(rep.Broken[0].Reason, "pruned"); got != tc.broken || (!tc.broken && len(rep.Broken) != 0) {
				t.Fatalf("verify: %+v; want broken %v", rep, tc.broken)
			}
		})
	}
}

// TestStateWithHTMLCharactersCommits: state holding characters that the
// record's encoding escapes ("&", "<", ">": a URL's query, a snippet of
// HTML) is still the state its event committed to, for Verify and for a
// resume's check.
func TestStateWithHTMLCharactersCommits(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	mustCreate(t, db, "s1", "a", time.Now())
	state := json.RawMessage(`{"vars":{"url":"https://x.example/?a=1&b=2","note":"<b>hi</b>"}}`)
	if _, err := db.AppendWithData(ctx, "s1", Event{Kind: KindCall, Tool: "t"}, state); err != nil {
		t.Fatal(err)
	}
	rec, err := db.Session(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	evs, err := db.Events(ctx, "s1")
	if err != nil {
		t.Fatal(err)
	}
	if err := CheckData(rec, evs); err != nil {
		t.Fatalf("CheckData: %v", err)
	}
	if rep, err := db.Verify(ctx); err != nil || len(rep.Broken) > 0 {
		t.Fatalf("Verify: %+v, %v", rep.Broken, err)
	}
}
