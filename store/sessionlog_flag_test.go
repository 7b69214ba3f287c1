package store

import (
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Attacks on the session log by someone who can write the bbolt file but
// holds no anchor key: each edit below must still show in Verify.

// dropSessionLogFlag removes the meta key that says the file keeps the
// session log.
func dropSessionLogFlag(t *testing.T, tx *bolt.Tx) {
	t.Helper()
	if err := tx.Bucket(bucketMeta).Delete(keySessionsChained); err != nil {
		t.Fatal(err)
	}
}

// forgeSession puts a session that never started through warden: a record
// and a chain of three events, every hash and head computed as warden
// would, so the chain alone is intact.
func forgeSession(t *testing.T, tx *bolt.Tx) {
	t.Helper()
	chain, err := tx.Bucket(bucketEvents).CreateBucket([]byte("forged"))
	if err != nil {
		t.Fatal(err)
	}
	var head Event
	at := time.Now().UTC()
	for seq := uint64(1); seq <= 3; seq++ {
		ev, err := normalize(Event{Seq: seq, Session: "forged", Time: at, Kind: KindCall, Tool: "transfer", Verdict: "allow", Prev: head.Hash})
		if err != nil {
			t.Fatal(err)
		}
		val, err := sealEvent(&ev)
		if err != nil {
			t.Fatal(err)
		}
		put(t, chain, seqKey(seq), val)
		head = ev
	}
	val, _ := encodeSession(Session{ID: "forged", Agent: "bot", State: StateEnded, Started: at, LastSeen: at, LastSeq: head.Seq, Head: head.Hash})
	put(t, tx.Bucket(bucketSessions), []byte("forged"), val)
	put(t, tx.Bucket(bucketStarted), startedKey(at, "forged"), nil)
}

// TestAttackSessionLogFlagDeleted: deleting the one meta key that says the
// file keeps a session log must not switch the session log's checks off,
// in Verify or (by adopting whatever the file holds) at the next start.
func TestSessionLogFlagDeleted(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(t *testing.T, tx *bolt.Tx)
		restart bool // warden starts (WithSessionLog) before verify runs
		session string
		phrase  string
	}{
		{name: "session deleted whole", session: "b", phrase: "the session is gone: deleted", edit: func(t *testing.T, tx *bolt.Tx) {
			deleteSessionWhole(t, tx, "b")
		}},
		{name: "head rewritten to match a cut chain", session: "a", phrase: "cut, and its head rewritten", edit: func(t *testing.T, tx *bolt.Tx) {
			cutChain(t, tx, "a", 2)
		}},
		{name: "forged session, then a restart adopts it", restart: true, session: "forged", phrase: "no start on the system log", edit: forgeSession},
		{name: "session deleted whole, then a restart", restart: true, session: "b", phrase: "the session is gone: deleted", edit: func(t *testing.T, tx *bolt.Tx) {
			deleteSessionWhole(t, tx, "b")
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := sessionLogFixture(t)
			tamper(t, path, func(t *testing.T, tx *bolt.Tx) {
				tc.edit(t, tx)
				dropSessionLogFlag(t, tx)
			})
			if tc.restart {
				db, err := Open(path, WithSessionLog())
				if err != nil {
					t.Fatal(err)
				}
				if err := db.Close(); err != nil {
					t.Fatal(err)
				}
			}
			db, err := Open(path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			rep := mustVerify(t, db)
			for _, b := range rep.Broken {
				if b.Session == tc.session && strings.Contains(b.Reason, tc.phrase) {
					return
				}
			}
			t.Fatalf("Verify = %+v (Broken %+v): want %s reported (%q)", rep, rep.Broken, tc.session, tc.phrase)
		})
	}
}
