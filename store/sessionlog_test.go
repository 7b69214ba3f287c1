package store

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// sessionLogFixture writes, with the session log on, two ended sessions
// ("a" with 4 events and an approval, "b" with 3), a live one ("live", 2
// events), and one pruned by retention ("old", 3 events), then closes the
// store and returns its path.
func sessionLogFixture(t *testing.T) string {
	t.Helper()
	db, path := openTest(t, WithSessionLog())
	now := time.Now()
	retained(t, db, "old", "bot", StateEnded, now.Add(-48*time.Hour), 3)
	pruneWith(t, db, Retention{MaxAge: 24 * time.Hour}, now)
	retained(t, db, "a", "bot", StateEnded, now, 4)
	retained(t, db, "b", "bot", StateKilled, now, 3)
	retained(t, db, "live", "bot", StateActive, now, 2)
	mustCreateApproval(t, db, testApproval("ap1", "a", now))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// deleteSessionWhole removes every trace of id from the session buckets.
func deleteSessionWhole(t *testing.T, tx *bolt.Tx, id string) {
	t.Helper()
	raw := tx.Bucket(bucketSessions).Get([]byte(id))
	s, err := decodeSession(raw)
	if err != nil {
		t.Fatal(err)
	}
	for _, del := range []func() error{
		func() error { return tx.Bucket(bucketEvents).DeleteBucket([]byte(id)) },
		func() error { return tx.Bucket(bucketSessions).Delete([]byte(id)) },
		func() error { return tx.Bucket(bucketStarted).Delete(startedKey(s.Started, id)) },
	} {
		if err := del(); err != nil {
			t.Fatal(err)
		}
	}
}

// cutChain deletes id's events after keep and moves its record's head back
// to match, so that the chain alone is consistent.
func cutChain(t *testing.T, tx *bolt.Tx, id string, keep uint64) {
	t.Helper()
	chain := chainOf(tx, id)
	s, err := decodeSession(tx.Bucket(bucketSessions).Get([]byte(id)))
	if err != nil {
		t.Fatal(err)
	}
	for seq := keep + 1; seq <= s.LastSeq; seq++ {
		if err := chain.Delete(seqKey(seq)); err != nil {
			t.Fatal(err)
		}
	}
	last, err := decodeEvent(chain.Get(seqKey(keep)))
	if err != nil {
		t.Fatal(err)
	}
	s.LastSeq, s.Head = keep, last.Hash
	val, _ := encodeSession(s)
	put(t, tx.Bucket(bucketSessions), []byte(id), val)
}

// editRecord rewrites id's session record with edit, outside every chain.
func editRecord(t *testing.T, tx *bolt.Tx, id string, edit func(*Session)) {
	t.Helper()
	s, err := decodeSession(tx.Bucket(bucketSessions).Get([]byte(id)))
	if err != nil {
		t.Fatal(err)
	}
	edit(&s)
	val, _ := encodeSession(s)
	put(t, tx.Bucket(bucketSessions), []byte(id), val)
}

// TestSessionLogCatchesWhatChainsCannot: deletions and rewrites that leave
// every chain consistent on its own are found by Verify, against the
// session starts and ends on the system log.
func TestSessionLogCatchesWhatChainsCannot(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, tx *bolt.Tx)
		session string // the broken session; "" for intact
		phrase  string // in its reason
	}{
		{name: "intact"},
		{name: "ended session deleted whole", session: "b", phrase: "the session is gone: deleted", edit: func(t *testing.T, tx *bolt.Tx) {
			deleteSessionWhole(t, tx, "b")
		}},
		{name: "live session deleted whole", session: "live", phrase: "the session is gone: deleted", edit: func(t *testing.T, tx *bolt.Tx) {
			deleteSessionWhole(t, tx, "live")
		}},
		{name: "head rewritten to match a cut chain", session: "a", phrase: "now ends at event 2: cut, and its head rewritten", edit: func(t *testing.T, tx *bolt.Tx) {
			cutChain(t, tx, "a", 2)
		}},
		{name: "approval without its session", session: "ghost", phrase: "approval ap2 names this session, which does not exist", edit: func(t *testing.T, tx *bolt.Tx) {
			a := testApproval("ap2", "ghost", time.Now())
			a.State = ApprovalPending
			b, _ := json.Marshal(a)
			put(t, tx.Bucket(bucketApprovals), []byte("ap2"), b)
		}},
		{name: "live session given to another agent", session: "live", phrase: `its record says agent "other", but the system log recorded its start by agent "bot"`, edit: func(t *testing.T, tx *bolt.Tx) {
			editRecord(t, tx, "live", func(s *Session) { s.Agent = "other" })
		}},
		{name: "killed session revived", session: "b", phrase: "its record says it is active, but the system log recorded it killed", edit: func(t *testing.T, tx *bolt.Tx) {
			editRecord(t, tx, "b", func(s *Session) { s.State = StateActive })
		}},
		{name: "pruned session's record deleted", session: "old", phrase: "no session record", edit: func(t *testing.T, tx *bolt.Tx) {
			if err := tx.Bucket(bucketSessions).Delete([]byte("old")); err != nil {
				t.Fatal(err)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sessionLogFixture(t)
			if tc.edit != nil {
				tamper(t, path, tc.edit)
			}
			// Opened without the option: the file keeps its session log.
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			rep := mustVerify(t, db)
			if !rep.SessionLog {
				t.Fatalf("Verify = %+v, want it checked against the session log", rep)
			}
			if tc.session == "" {
				if len(rep.Broken) != 0 || rep.Pruned != 1 {
					t.Fatalf("intact history: %+v, want no break and 1 pruned", rep)
				}
				return
			}
			if len(rep.Broken) != 1 || rep.Broken[0].Session != tc.session || !strings.Contains(rep.Broken[0].Reason, tc.phrase) {
				t.Fatalf("Broken = %+v, want one break, of %s, saying %q", rep.Broken, tc.session, tc.phrase)
			}
		})
	}
}

// TestSessionLogAdoptsOldData: a file written without the session log
// verifies intact before and after the first Open that turns it on; from
// then on its old sessions are held like new ones.
func TestSessionLogAdoptsOldData(t *testing.T) {
	db, path := openTest(t)
	now := time.Now()
	retained(t, db, "legacy-ended", "bot", StateEnded, now, 3)
	retained(t, db, "legacy-live", "bot", StateActive, now, 2)
	mustCreateApproval(t, db, testApproval("ap1", "legacy-ended", now))
	if rep := mustVerify(t, db); len(rep.Broken) != 0 || rep.SessionLog {
		t.Fatalf("old data before adoption: %+v", rep)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db, err := Open(path, WithSessionLog())
	if err != nil {
		t.Fatal(err)
	}
	retained(t, db, "new", "bot", StateEnded, now, 2)
	rep := mustVerify(t, db)
	if len(rep.Broken) != 0 || !rep.SessionLog {
		t.Fatalf("old data after adoption: %+v", rep)
	}
	sys, err := db.Events(context.Background(), SystemLog)
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range sys {
		kinds = append(kinds, e.Kind)
	}
	if got := strings.Join(kinds, " "); got != "sessions_adopted session_start session_end" {
		t.Fatalf("system log = %s, want the adoption, then the new session's start and end", got)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	tamper(t, path, func(t *testing.T, tx *bolt.Tx) { cutChain(t, tx, "legacy-ended", 1) })
	db, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rep = mustVerify(t, db)
	if len(rep.Broken) != 1 || rep.Broken[0].Session != "legacy-ended" || !strings.Contains(rep.Broken[0].Reason, "cut") {
		t.Fatalf("an adopted session cut back: Broken = %+v, want it found", rep.Broken)
	}
}

// TestSessionLogToleratesACrashBeforeTheStart: a record written just
// before a crash, whose start never reached the log, holds nothing and is
// not a break; one with events and no start is.
func TestSessionLogToleratesACrashBeforeTheStart(t *testing.T) {
	path := sessionLogFixture(t)
	tamper(t, path, func(t *testing.T, tx *bolt.Tx) {
		for _, id := range []string{"empty", "forged"} {
			val, _ := encodeSession(Session{ID: id, Agent: "bot", State: StateActive, Started: time.Now().UTC()})
			put(t, tx.Bucket(bucketSessions), []byte(id), val)
		}
		// "forged" gets a's chain and head.
		a, _ := decodeSession(tx.Bucket(bucketSessions).Get([]byte("a")))
		val, _ := encodeSession(Session{ID: "forged", Agent: "bot", State: StateActive, LastSeq: a.LastSeq, Head: a.Head})
		put(t, tx.Bucket(bucketSessions), []byte("forged"), val)
	})
	db, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rep := mustVerify(t, db)
	if len(rep.Broken) != 1 || rep.Broken[0].Session != "forged" {
		t.Fatalf("Broken = %+v, want only the forged session (the empty one holds nothing)", rep.Broken)
	}
}
